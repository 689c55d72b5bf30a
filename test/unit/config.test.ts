import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, parseDuration } from '../../src/config';

test('config defaults work without settings', () => {
  const config = loadConfig({});
  assert.equal(config.apiPort, 3000);
  assert.equal(config.apiHost, '127.0.0.1');
  assert.equal(config.closeDelayMs, 3_600_000);
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.workerMaxCachedWorkflows, undefined);
  assert.equal(config.publicUrl, 'http://127.0.0.1:3000');
});

test('config reads each setting', () => {
  const config = loadConfig({ PORT: '8080', CLOSE_DELAY: '15m', TRUEUP_WORKER_MAX_CACHED_WORKFLOWS: '300', SMTP_URL: 'smtp://mail:587' });
  assert.equal(config.apiPort, 8080);
  assert.equal(config.closeDelayMs, 900_000);
  assert.equal(config.workerMaxCachedWorkflows, 300);
  assert.equal(config.smtpUrl, 'smtp://mail:587');
});

test('config rejects bad values by name', () => {
  assert.throws(() => loadConfig({ PORT: 'eighty' }), (error: unknown) => error instanceof ConfigError && error.variable === 'PORT');
  assert.throws(() => loadConfig({ TRUEUP_WORKER_MAX_CACHED_WORKFLOWS: '0' }), /TRUEUP_WORKER_MAX_CACHED_WORKFLOWS: "0" is not a positive integer/);
  assert.throws(() => parseDuration('an hour', 'CLOSE_DELAY'), /CLOSE_DELAY: "an hour" is not a duration/);
});

test('durations take each unit', () => {
  assert.equal(parseDuration('250ms', 'X'), 250);
  assert.equal(parseDuration('90s', 'X'), 90_000);
  assert.equal(parseDuration('2h', 'X'), 7_200_000);
  assert.equal(parseDuration('1d', 'X'), 86_400_000);
  assert.equal(parseDuration('5000', 'X'), 5000);
});
