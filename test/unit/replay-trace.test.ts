import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monthOfTrace, readTrace, type TraceRequest } from '../../src/replay/trace';
import { TRACE_DIR } from '../../src/replay/scenario';

// Every file a test writes lives under one folder, removed when the file's tests end.
const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-trace-'));
after(() => fs.rmSync(tempRoot, { recursive: true, force: true }));

const FEBRUARY = { start: new Date('2027-02-01T00:00:00Z'), end: new Date('2027-03-01T00:00:00Z') };

function writeTrace(text: string): string {
  const dir = fs.mkdtempSync(path.join(tempRoot, 'case-'));
  const file = path.join(dir, 'trace.csv');
  fs.writeFileSync(file, text);
  return file;
}

test('readTrace times requests from the first', () => {
  const file = writeTrace(
    'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:01.5000000,100,7\n2023-11-16 18:00:00.2500000,40,3\n',
  );
  assert.deepEqual(readTrace(file), [
    { atSeconds: 0, inputTokens: 40, outputTokens: 3 },
    { atSeconds: 1.25, inputTokens: 100, outputTokens: 7 },
  ]);
});

test('readTrace rejects a bad token count', () => {
  const file = writeTrace('TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0000000,12.5,3\n');
  assert.throws(() => readTrace(file), /line 2: ContextTokens "12.5" is not a whole number of tokens/);
});

test('readTrace rejects a trace over an hour', () => {
  const file = writeTrace(
    'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0000000,1,1\n2023-11-16 19:00:00.0000000,1,1\n',
  );
  assert.throws(() => readTrace(file), /spans 3600 s/);
});

test('monthOfTrace stretches the hour over the month', () => {
  const trace: TraceRequest[] = [
    { atSeconds: 0, inputTokens: 10, outputTokens: 1 },
    { atSeconds: 1800, inputTokens: 20, outputTokens: 2 },
  ];
  const rows = monthOfTrace(trace, { eventIdPrefix: 'code-m01', ...FEBRUARY, volumeFactor: 1.5, sample: 1 });
  assert.deepEqual(rows, [
    { eventId: 'code-m01-0-in', meter: 'llm_input_token', quantity: '15', occurredAt: '2027-02-01T00:00:00.000Z' },
    { eventId: 'code-m01-0-out', meter: 'llm_output_token', quantity: '2', occurredAt: '2027-02-01T00:00:00.000Z' },
    // Half of the trace's hour is half of February's 28 days.
    { eventId: 'code-m01-1-in', meter: 'llm_input_token', quantity: '30', occurredAt: '2027-02-15T00:00:00.000Z' },
    { eventId: 'code-m01-1-out', meter: 'llm_output_token', quantity: '3', occurredAt: '2027-02-15T00:00:00.000Z' },
  ]);
});

test('monthOfTrace sample keeps the volume', () => {
  const trace: TraceRequest[] = Array.from({ length: 10 }, (_, index) => ({ atSeconds: index, inputTokens: 100, outputTokens: 10 }));
  const rows = monthOfTrace(trace, { eventIdPrefix: 'conv-m00', ...FEBRUARY, volumeFactor: 1, sample: 5 });
  assert.deepEqual(
    rows.map((row) => row.eventId),
    ['conv-m00-00-in', 'conv-m00-00-out', 'conv-m00-05-in', 'conv-m00-05-out'],
  );
  const inputTokens = rows.filter((row) => row.meter === 'llm_input_token').reduce((sum, row) => sum + Number(row.quantity), 0);
  assert.equal(inputTokens, 1000);
});

test('shipped traces fit in a month', () => {
  for (const name of ['code.csv', 'conv.csv']) {
    const trace = readTrace(path.join(TRACE_DIR, name));
    const rows = monthOfTrace(trace, { eventIdPrefix: 'x', ...FEBRUARY, volumeFactor: 1, sample: 1 });
    assert.equal(rows.length, trace.length * 2, name);
    assert.ok(rows.every((row) => row.occurredAt >= '2027-02-01' && row.occurredAt < '2027-03-01'), `${name} rows in February`);
  }
});
