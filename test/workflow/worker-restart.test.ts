// A worker killed in the middle of a close, after an activity committed its work but
// before the workflow heard of it, and a fresh worker taking over: every effect of the
// close still happens exactly once. Emails go to a real SMTP server in the process, so a
// second send of one alert would show as a second message with its Message-ID.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createMailer } from '../../src/activities/mailer';
import type { PeriodStatement } from '../../src/domain';
import { contractWorkflowId, type GrantCreditsResult } from '../../src/workflows/messages';
import { createTestSmtpServer, type TestSmtpServer } from '../email/support';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { silentLogger, startHarness, termsStartingAfter, type Harness } from '../support/harness';
import {
  postUsage,
  signContract,
  sleepUntil,
  startCrashingWorker,
  storedInvoices,
  storedStatements,
  utcMonthStart,
  waitForClose,
  type CrashingWorker,
  type StoredInvoice,
} from './support';

const CLOSE_DELAY_MS = 3_600_000;
const DAY_MS = 86_400_000;

let smtp: TestSmtpServer;
let outboxDir: string;
let h: Harness;
let contractId: string;
// Each worker crashes right after this activity of the close has committed its work; the
// next worker retries it and crashes after the following one. A normal worker ends the close.
const CRASH_POINTS = ['closePeriod', 'issueInvoices', 'raiseAlerts', 'deliverAlerts'] as const;
const crashingWorkers: CrashingWorker[] = [];
let statements: PeriodStatement[];
let invoices: StoredInvoice[];
let alerts: { alert_key: string; kind: string; period_index: number | null; status: string; attempts: number; message_id: string }[];

before(async () => {
  quietTemporalRuntime();
  smtp = await createTestSmtpServer();
  await smtp.listen();
  outboxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-restart-outbox-'));
  const mailer = createMailer({ smtpUrl: smtp.url, from: 'trueup-test@trueup.localhost', outboxDir, logger: silentLogger });
  h = await startHarness({ closeDelayMs: CLOSE_DELAY_MS, mailer });

  crashingWorkers.push(await startCrashingWorker(h, CRASH_POINTS[0], { closeDelayMs: CLOSE_DELAY_MS }));

  const now = await h.env.currentTimeMs();
  const terms = termsStartingAfter(new Date(now), { termMonths: 2 });
  const start = utcMonthStart(now, 1);
  const end = utcMonthStart(now, 2);
  contractId = await signContract(h, terms);
  const handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));

  // Period 0 receives 4,500 tasks = 45,000 credits, 90% of the 50,000 commit, which raises the
  // 80% usage alert at once. A grant of 5,000 credits expiring 7 days after the period's
  // end stays unused, so the close raises a credits-expiring alert (notice: 14 days).
  await sleepUntil(h.env, start.getTime() + DAY_MS);
  const usage = await postUsage(h, contractId, [
    { eventId: 'restart-1', meter: 'agent_task', quantity: '4500', occurredAt: new Date(start.getTime() + DAY_MS).toISOString() },
  ]);
  assert.deepEqual(usage, ['accepted']);
  const grant: GrantCreditsResult = await handle.executeUpdate('grantCredits', {
    args: [{ credits: '5000', expiresAt: new Date(end.getTime() + 7 * DAY_MS).toISOString(), by: 'ops-test', reason: 'goodwill credits for an outage' }],
  });
  assert.equal(grant.credits, '5000');

  // The close of period 0 runs on the first worker until it crashes. The clock stops at the
  // close's due time: skipping past it would leave the test server waiting for the retried
  // activity, which no worker polls for until the next one starts.
  await sleepUntil(h.env, end.getTime() + CLOSE_DELAY_MS);
  await crashingWorkers[0]!.stopped;
  for (const activity of CRASH_POINTS.slice(1)) {
    const worker = await startCrashingWorker(h, activity, { closeDelayMs: CLOSE_DELAY_MS });
    crashingWorkers.push(worker);
    await worker.stopped;
  }
  await h.startWorker();

  // Awaiting the result skips time through the final close of period 1.
  await handle.result();
  await waitForClose(h.db, contractId, 1);

  statements = await storedStatements(h.db, contractId);
  invoices = await storedInvoices(h.db, contractId);
  alerts = await h.db
    .selectFrom('alerts')
    .select(['alert_key', 'kind', 'period_index', 'status', 'attempts', 'message_id'])
    .where('contract_id', '=', contractId)
    .orderBy('alert_key')
    .execute();
});

after(async () => {
  for (const worker of crashingWorkers) await worker.stop();
  await h?.close();
  await smtp?.stop();
  fs.rmSync(outboxDir, { recursive: true, force: true });
});

test('first worker crashed after the close', () => {
  // It also delivered the usage alert of period 0 when ingestion signalled it.
  const calls = crashingWorkers[0]!.calls;
  assert.equal(calls.get('closePeriod'), 1);
  assert.equal(calls.get('issueInvoices'), undefined);
});

test('each next worker retried and crashed one step later', () => {
  assert.equal(crashingWorkers.length, CRASH_POINTS.length);
  for (let position = 1; position < CRASH_POINTS.length; position++) {
    const calls = crashingWorkers[position]!.calls;
    const retried = CRASH_POINTS[position - 1]!;
    const crashed = CRASH_POINTS[position]!;
    assert.equal(calls.get(retried), 1, `worker ${position} retried ${retried}`);
    assert.equal(calls.get(crashed), 1, `worker ${position} ran ${crashed}`);
    assert.equal(calls.size, 2, `worker ${position} ran only ${retried} and ${crashed}: ${[...calls.keys()].join(', ')}`);
  }
});

test('each period closed once', async () => {
  assert.equal(statements.length, 2);
  const closed = await h.db
    .selectFrom('periods')
    .select(['period_index', 'status'])
    .where('contract_id', '=', contractId)
    .orderBy('period_index')
    .execute();
  assert.deepEqual(closed, [
    { period_index: 0, status: 'closed' },
    { period_index: 1, status: 'closed' },
  ]);
});

test('period 0 ledger moves each credit once', async () => {
  // Commit 50,000: 45,000 burned, then 1,250 rolled over and 3,750 forfeited at the close.
  const movements = await h.db
    .selectFrom('ledger_movements')
    .select(['grant_id', 'kind', 'credits'])
    .where('contract_id', '=', contractId)
    .where('period_index', '=', 0)
    .where('grant_id', '=', 'commit-0')
    .orderBy('kind')
    .execute();
  assert.deepEqual(
    movements.map((movement) => [movement.kind, movement.credits]),
    [
      ['burn', '45000'],
      ['forfeit', '3750'],
      ['issue', '50000'],
      ['rollover', '1250'],
    ],
  );
});

test('period 0 statement counts usage once', () => {
  // 45,000 credits burn from the 50,000 commit. Unused 5,000: 25% = 1,250 roll over, 3,750
  // forfeited. Charges: 5,000.00 + 10,000.00 = 15,000.00.
  const period = statements[0]!;
  assert.equal(period.consumedCredits, '45000');
  assert.equal(period.overageCredits, '0');
  assert.equal(period.rolledOverCredits, '1250');
  assert.equal(period.forfeitedCredits, '3750');
  assert.equal(period.charges.total, '15000.00');
});

test('one invoice per period', () => {
  assert.deepEqual(
    invoices.map((invoice) => invoice.periodIndex),
    [0, 1],
  );
  assert.deepEqual(
    invoices.map((invoice) => invoice.total),
    ['15000.00', '15000.00'],
  );
});

test('invoice numbers have no gap', () => {
  // A fresh database numbers from 1; a retried issue that took a second number would leave a gap.
  assert.deepEqual(
    invoices.map((invoice) => invoice.number),
    ['1', '2'],
  );
});

test('period 0 alerts stored once each', () => {
  assert.deepEqual(
    alerts.map((alert) => [alert.period_index, alert.kind]),
    [
      [0, 'credits_expiring'],
      [0, 'usage_threshold'],
    ],
  );
});

test('every alert sent once', () => {
  for (const alert of alerts) {
    assert.equal(alert.status, 'sent', `${alert.alert_key} status`);
    assert.equal(alert.attempts, 1, `${alert.alert_key} attempts`);
  }
});

test('one email per alert', () => {
  const counts = smtp.countByMessageId();
  assert.equal(counts.size, alerts.length);
  for (const alert of alerts) {
    assert.equal(counts.get(alert.message_id), 1, `${alert.alert_key} emails`);
  }
});
