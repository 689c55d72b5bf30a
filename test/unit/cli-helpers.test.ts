import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { unwrapTerms } from '../../src/cli/terms-file';
import { temporalLoggerFor } from '../../src/temporal-logger';

test('unwrapTerms takes an API request body', () => {
  assert.deepEqual(unwrapTerms({ terms: { currency: 'USD' } }), { currency: 'USD' });
});

test('unwrapTerms keeps a terms document', () => {
  const document = { currency: 'USD', terms: 'not the only key' };
  assert.equal(unwrapTerms(document), document);
  assert.equal(unwrapTerms(null), null);
});

function capture() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

test('SDK logger lowers routine lines', async () => {
  const { logger, lines } = capture();
  const sdk = temporalLoggerFor(logger);

  sdk.info('asset workflow-bundle-1.js 1.59 MiB [emitted]');
  sdk.warn('Activity failed', { error: { type: 'OperationRejected' } });
  sdk.warn('Activity failed', { error: { type: 'Error' } });
  await new Promise((resolve) => setImmediate(resolve));

  // pino levels: 20 debug, 30 info, 40 warn.
  assert.deepEqual(
    lines.map((line) => line.level),
    [20, 30, 40],
  );
  assert.equal(lines[1]?.msg, 'Activity failed');
});
