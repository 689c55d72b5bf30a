import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseUsageCsv } from '../../src/cli/usage-csv';
import { parseDuration, runSimulate } from '../../src/cli/simulate';

// Every file a test writes lives under one folder, removed when the file's tests end.
const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-sim-'));
after(() => fs.rmSync(tempRoot, { recursive: true, force: true }));

test('usage CSV reads columns in any order', () => {
  const rows = parseUsageCsv('meter,quantity,occurred_at,event_id,note\r\nagent_task,100,2026-01-01T00:00:00Z,e1,"a, b"\nagent_task,2,2026-01-02T00:00:00Z,,x\n');
  assert.deepEqual(rows, [
    { line: 2, occurredAt: '2026-01-01T00:00:00Z', meter: 'agent_task', quantity: '100', eventId: 'e1' },
    { line: 3, occurredAt: '2026-01-02T00:00:00Z', meter: 'agent_task', quantity: '2' },
  ]);
});

test('usage CSV errors name line and column', () => {
  assert.throws(() => parseUsageCsv('occurred_at,meter\n'), /line 1: the header lacks column quantity/);
  assert.throws(() => parseUsageCsv('occurred_at,meter,quantity\n2026-01-01T00:00:00Z,agent_task\n'), /line 2: expected 3 fields/);
  assert.throws(() => parseUsageCsv('occurred_at,meter,quantity\n2026-01-01T00:00:00Z,,1\n'), /line 2, column meter: the value is empty/);
  assert.throws(() => parseUsageCsv('occurred_at,meter,quantity\n"2026,agent_task,1\n'), /quoted field is not closed/);
  assert.throws(() => parseUsageCsv(''), /is empty/);
});

test('close delay durations parse', () => {
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('30m'), 1_800_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('250ms'), 250);
  assert.throws(() => parseDuration('5'), /add a unit/);
  assert.throws(() => parseDuration('soon'), /Invalid --close-delay/);
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

const examples = path.resolve(__dirname, '../../examples');

test('simulate command prints table and csv', async () => {
  const args = ['--terms', path.join(examples, 'worked-example-terms.json'), '--usage', path.join(examples, 'worked-example-usage.csv')];
  const table = new Capture();
  assert.equal(await runSimulate(args, table, new Capture()), 0);
  assert.match(table.text, /^3\s+2026-04-01\s+growth\s+90000\s+0\s+88000\s+2000\s+38000/m);
  const csv = new Capture();
  assert.equal(await runSimulate([...args, '--format', 'csv'], csv, new Capture()), 0);
  const lines = csv.text.trim().split('\n');
  assert.equal(lines.length, 13);
  assert.match(lines[0] ?? '', /^index,start,end,tier,demand_credits/);
  assert.match(lines[5] ?? '', /^4,2026-05-01T00:00:00.000Z,2026-06-01T00:00:00.000Z,growth,85000,2000,87000,0,37000/);
});

test('simulate command rejects invalid rows by line', async () => {
  const dir = fs.mkdtempSync(path.join(tempRoot, 'case-'));
  const usage = path.join(dir, 'usage.csv');
  fs.writeFileSync(usage, 'occurred_at,meter,quantity\n2026-01-02T00:00:00Z,agent_task,1\n2026-01-02T00:00:00Z,gpu,1\n');
  const err = new Capture();
  const status = await runSimulate(['--terms', path.join(examples, 'worked-example-terms.json'), '--usage', usage], new Capture(), err);
  assert.equal(status, 1);
  assert.match(err.text, /usage\.csv line 3: Unknown meter "gpu"/);
});

test('simulate command needs its files', async () => {
  const err = new Capture();
  assert.equal(await runSimulate(['--usage', 'x.csv'], new Capture(), err), 2);
  assert.match(err.text, /Missing --terms FILE/);
  const missing = new Capture();
  assert.equal(await runSimulate(['--terms', 'nope.json', '--usage', 'x.csv'], new Capture(), missing), 1);
  assert.match(missing.text, /File not found: nope\.json/);
});
