// A worker killed in the middle of a close, after an activity committed its work but
// before the workflow heard of it, and a fresh worker taking over: every effect of the
// close still happens exactly once. Emails go to a real SMTP server in the process, so a
// second send of one alert would show as a second message with its Message-ID.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
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
let firstWorker: CrashingWorker;
let secondWorker: CrashingWorker;
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

  // The first worker dies after issueInvoices commits the invoice; the second after
  // raiseAlerts stores the alerts; the third is a normal worker.
  firstWorker = await startCrashingWorker(h, 'issueInvoices', { closeDelayMs: CLOSE_DELAY_MS });

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
  await firstWorker.stopped;
  secondWorker = await startCrashingWorker(h, 'raiseAlerts', { closeDelayMs: CLOSE_DELAY_MS });
  await secondWorker.stopped;
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
  await firstWorker?.stop();
  await secondWorker?.stop();
  await h?.close();
  await smtp?.stop();
  fs.rmSync(outboxDir, { recursive: true, force: true });
});

test('first worker crashed after issuing invoices', () => {
  assert.equal(firstWorker.calls.get('closePeriod'), 1);
  assert.equal(firstWorker.calls.get('issueInvoices'), 1);
  assert.equal(firstWorker.calls.get('raiseAlerts'), undefined);
});

test('second worker retried invoices and crashed after alerts', () => {
  assert.equal(secondWorker.calls.get('closePeriod'), undefined);
  assert.equal(secondWorker.calls.get('issueInvoices'), 1);
  assert.equal(secondWorker.calls.get('raiseAlerts'), 1);
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

test('no ledger movement recorded twice', async () => {
  const repeated = await h.db
    .selectFrom('ledger_movements')
    .select(['grant_id', 'kind', 'period_index', sql<string>`count(*)`.as('count')])
    .where('contract_id', '=', contractId)
    .groupBy(['grant_id', 'kind', 'period_index'])
    .having(sql`count(*)`, '>', 1)
    .execute();
  assert.deepEqual(repeated, []);
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
