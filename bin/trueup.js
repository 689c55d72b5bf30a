#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so the command works from a clone without a build step.
require('tsx/cjs');
require('../src/cli/main.ts');
