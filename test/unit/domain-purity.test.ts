import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';

// Workflow code runs in Temporal's deterministic sandbox, so the domain it imports may
// not read the clock, draw random numbers or load Node built-ins.
const domain = path.resolve(__dirname, '../../src/domain');
const sources = fs
  .readdirSync(domain)
  .filter((name) => name.endsWith('.ts'))
  .map((name) => ({ name, text: fs.readFileSync(path.join(domain, name), 'utf8') }));

test('domain imports only small libraries', () => {
  const allowed = new Set(['decimal.js', 'luxon', 'zod']);
  for (const { name, text } of sources) {
    for (const match of text.matchAll(/from '([^']+)'/g)) {
      const specifier = match[1] as string;
      if (specifier.startsWith('./')) continue;
      assert.ok(!specifier.startsWith('node:'), `${name} imports built-in ${specifier}`);
      assert.ok(!builtinModules.includes(specifier), `${name} imports built-in ${specifier}`);
      assert.ok(allowed.has(specifier), `${name} imports ${specifier}`);
    }
  }
});

test('domain reads no clock or randomness', () => {
  for (const { name, text } of sources) {
    assert.doesNotMatch(text, /Date\.now\(|new Date\(\)|Math\.random\(|performance\.now\(/, name);
    assert.doesNotMatch(text, /\bprocess\.|require\(/, name);
  }
});
