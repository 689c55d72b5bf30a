#!/usr/bin/env node
// Runs the test suite with Node's test runner, TypeScript loaded through tsx.
// Arguments narrow the run to files or folders: `npm test -- test/unit`.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function collectTestFiles(target) {
  const stat = fs.statSync(target);
  if (stat.isFile()) return [target];
  const files = [];
  for (const entry of fs.readdirSync(target, { withFileTypes: true })) {
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) files.push(...collectTestFiles(full));
    else if (entry.name.endsWith('.test.ts')) files.push(full);
  }
  return files.sort();
}

const targets = process.argv.slice(2);
const roots = targets.length > 0 ? targets.map((t) => path.resolve(t)) : [path.join(root, 'test')];
const files = roots.flatMap(collectTestFiles);
if (files.length === 0) {
  console.error(`No test files (*.test.ts) found under: ${roots.join(', ')}`);
  process.exit(1);
}

// One file at a time: the workflow and API tests each start servers, and the machine has two cores.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: process.env },
);
process.exit(result.status ?? 1);
