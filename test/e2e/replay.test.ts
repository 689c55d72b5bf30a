// A shortened replay: four months of both traces, one request in twenty (tokens times
// twenty), through the real API, worker, PostgreSQL and contract workflows on the
// time-skipping server. The months keep their full-size volumes, so the scenario's
// events happen in the same months as in the full replay.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runReplay } from '../../src/cli/replay';
import { outboxFileName } from '../../src/activities/mailer';
import { quietLog } from '../../src/runtime/log';
import { checkAgainstSimulator } from '../../src/replay/compare';
import { runReplayScenario, type CustomerRun, type ReplayResult } from '../../src/replay/run';
import { REPLAY_CUSTOMERS } from '../../src/replay/scenario';

const MONTHS = 4;
const SAMPLE = 20;
const CLOSE_DELAY_MS = 3_600_000;

let dataDir: string;
let result: ReplayResult;
let code: CustomerRun;
let conv: CustomerRun;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-replay-test-'));
  result = await runReplayScenario(
    {
      customers: REPLAY_CUSTOMERS,
      months: MONTHS,
      sample: SAMPLE,
      dataDir,
      closeDelayMs: CLOSE_DELAY_MS,
      smtpUrl: undefined,
      mailFrom: 'trueup-test@trueup.localhost',
      logLevel: 'warn',
      log: quietLog,
    },
    () => undefined,
  );
  code = result.runs.find((run) => run.customer.key === 'code')!;
  conv = result.runs.find((run) => run.customer.key === 'conv')!;
});

after(() => {
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('every month closes and both contracts end', () => {
  for (const run of [code, conv]) {
    assert.equal(run.statements.length, MONTHS, `${run.customer.key} closed periods`);
    assert.equal(run.status, 'ended', `${run.customer.key} status`);
    assert.equal(run.statements.at(-1)!.final, true, `${run.customer.key} final close`);
  }
});

test('every event is accepted or deferred', () => {
  for (const run of [code, conv]) {
    const sent = run.tallies.reduce((sum, tally) => sum + tally.sent, 0);
    const answered = run.tallies.reduce((sum, tally) => sum + tally.accepted + tally.deferred, 0);
    assert.equal(sent, run.rows.length, `${run.customer.key} events sent`);
    assert.equal(answered, run.rows.length, `${run.customer.key} accepted or deferred`);
  }
});

/** Differences from the simulator in the statements' alert keys, and in everything else. */
function simulatorDifferences(run: CustomerRun): { alerts: string[]; other: string[] } {
  const { differences } = checkAgainstSimulator(run, CLOSE_DELAY_MS);
  const isAlertDifference = (difference: string) => /^period \d+ alerts:/.test(difference);
  return { alerts: differences.filter(isAlertDifference), other: differences.filter((difference) => !isAlertDifference(difference)) };
}

test('statements and invoices match the simulator', () => {
  for (const run of [code, conv]) {
    assert.deepEqual(simulatorDifferences(run).other, [], `${run.customer.key} differences`);
  }
});

test('alert keys match the simulator', () => {
  for (const run of [code, conv]) {
    assert.deepEqual(simulatorDifferences(run).alerts, [], `${run.customer.key} alert differences`);
  }
  const upgraded = conv.alerts.filter((alert) => alert.kind === 'tier_upgraded');
  assert.deepEqual(
    upgraded.map((alert) => alert.periodIndex),
    [2],
  );
});

test('code assistant rolls over, then is throttled', () => {
  const [pilot, rollout, peak, following] = code.statements;
  // Pilot at 2x: about 38,750 credits of the 50,000 commit, a quarter of the rest rolls over.
  assert.ok(Number(pilot!.rolledOverCredits) > 2000, `rolled over ${pilot!.rolledOverCredits}`);
  assert.equal(pilot!.overageCredits, '0');
  assert.ok(Number(rollout!.overageCredits) > 0, `overage ${rollout!.overageCredits}`);
  assert.equal(rollout!.deferredCredits, '0');
  // Peak at 5x: about 97,000 credits, over the 88,460 that the 25,000.00 cap allows.
  assert.ok(Number(peak!.deferredCredits) > 0, `deferred ${peak!.deferredCredits}`);
  assert.ok(peak!.alerts.some((alert) => alert.kind === 'throttled'), 'throttled alert in month 3');
  assert.ok(Number(peak!.charges.total) <= 25_000, `charges ${peak!.charges.total} over the cap`);
  assert.equal(following!.carriedInCredits, peak!.deferredCredits);
  assert.ok(code.statements.every((statement) => statement.tier === 'growth'), 'code stays on growth');
});

test('code assistant trigger fires in month 4', () => {
  const streaks = code.statements.map((statement) => statement.trigger.streak);
  assert.deepEqual(streaks, [0, 1, 2, 3]);
  const fourth = code.statements[3]!;
  assert.equal(fourth.trigger.fired, true);
  // Respond by: the end of month 4 plus the 30 response days.
  const respondBy = new Date(Date.parse(fourth.end) + 30 * 86_400_000).toISOString().slice(0, 10);
  assert.equal(fourth.trigger.respondBy, respondBy);
});

test('trigger email reaches the account manager', () => {
  const triggers = code.alerts.filter((alert) => alert.kind === 'renegotiation_trigger');
  assert.equal(triggers.length, 1);
  assert.equal(triggers[0]!.periodIndex, 3);
  assert.deepEqual(triggers[0]!.recipients, ['dana@vendor.example']);
  assert.equal(triggers[0]!.status, 'sent');

  const file = path.join(dataDir, 'outbox', outboxFileName(triggers[0]!.messageId));
  const email = fs.readFileSync(file, 'utf8');
  assert.match(email, /^To: dana@vendor\.example$/m);
  assert.match(email, /renegotiation trigger fired/);
});

test('conversation agent prepaid credits expire', () => {
  const [launch, second] = conv.statements;
  assert.ok(Number(launch!.rolledOverCredits) > 0, `rolled over ${launch!.rolledOverCredits}`);
  assert.equal(launch!.expiredCredits, '0');
  // The 40,000 prepaid credits valid for two months burn after the commit in month 2 and the rest expire.
  assert.ok(Number(second!.expiredCredits) > 0, `expired ${second!.expiredCredits}`);
  assert.ok(Number(second!.expiredCredits) < 40_000, `expired ${second!.expiredCredits}`);
  const prepaid = conv.invoices.filter((invoice) => invoice.kind === 'prepaid');
  // 40,000 credits x 0.20 x (1 - 0.15) = 6,800.00.
  assert.deepEqual(prepaid.map((invoice) => invoice.total), ['6800.00']);
});

test('conversation agent upgrades to scale in month 3', () => {
  assert.deepEqual(
    conv.statements.map((statement) => statement.tier),
    ['growth', 'growth', 'scale', 'scale'],
  );
  const upgraded = conv.alerts.filter((alert) => alert.kind === 'tier_upgraded');
  assert.equal(upgraded[0]?.periodIndex, 2);
  assert.ok(conv.statements.every((statement) => statement.deferredCredits === '0'), 'nothing deferred after the upgrade');
});

test('each period has one invoice', () => {
  for (const run of [code, conv]) {
    const periodInvoices = run.invoices.filter((invoice) => invoice.kind === 'period').map((invoice) => invoice.periodIndex);
    assert.deepEqual(periodInvoices, [0, 1, 2, 3], `${run.customer.key} period invoices`);
  }
});

test('replay command prints the match', async () => {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const commandDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-replay-cli-'));
  try {
    const status = await runReplay(['--months', '2', '--sample', '50', '--data-dir', commandDir], out);
    const output = chunks.join('');
    assert.equal(status, 0, output);
    assert.match(output, /Month 2 of 2 closed:/);
    assert.match(output, /^ {2}\d{4}-\d{2} {2}code .* events: .* accepted, 0 deferred/m);
    assert.match(output, /statements match the simulator$/m);
  } finally {
    fs.rmSync(commandDir, { recursive: true, force: true });
  }
});
