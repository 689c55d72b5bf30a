// Under `capPolicy: upgrade`, an event that does not fit under the spend cap moves the
// contract to the lowest higher tier under which it fits, for the whole open period.
// Ingestion makes the change and signals the workflow, which reloads its schedule and
// delivers the tier_upgraded alert. The close bills the period at the new tier.
//
// Growth: commit 50,000 credits at 0.20, platform fee 5,000.00, cap 25,000.00, overage
// 0.26 per credit. Scale: commit 100,000 at 0.17, platform fee 6,000.00, cap 40,000.00.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { parseTerms, runSimulation, type PeriodStatement } from '../../src/domain';
import { contractWorkflowId, type LifecycleState } from '../../src/workflows/messages';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { startHarness, termsStartingAfter, type Harness } from '../support/harness';
import { postUsage, signContract, sleepUntil, storedInvoices, storedStatements, utcMonthStart, waitFor, waitForClose, type StoredInvoice } from './support';

const DAY_MS = 86_400_000;
const CLOSE_DELAY_MS = 3_600_000;

let h: Harness;
let contractId: string;
let answers: string[];
let lifecycle: LifecycleState;
let statement: PeriodStatement;
let simulated: PeriodStatement;
let invoices: StoredInvoice[];
let upgradeAlert: { status: string; recipients: string[] } | undefined;
let outboxFiles: string[];
let sentAlertCount: number;

before(async () => {
  quietTemporalRuntime();
  h = await startHarness({ closeDelayMs: CLOSE_DELAY_MS });
  await h.startWorker();
  const now = await h.env.currentTimeMs();
  const start = utcMonthStart(now, 1);
  const termsJson = termsStartingAfter(new Date(now), { termMonths: 2, capPolicy: 'upgrade' });
  contractId = await signContract(h, termsJson);
  const handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));

  // 10,000 tasks = 100,000 credits. On growth they would cost 5,000.00 + 10,000.00 +
  // 50,000 x 0.26 = 28,000.00, over the 25,000.00 cap. On scale they cost 6,000.00 +
  // 17,000.00 = 23,000.00, under its 40,000.00 cap.
  const rows = [{ eventId: 'big-batch', meter: 'agent_task', quantity: '10000', occurredAt: new Date(start.getTime() + DAY_MS).toISOString() }];
  await sleepUntil(h.env, start.getTime() + DAY_MS);
  answers = await postUsage(h, contractId, rows);
  lifecycle = await waitFor(async () => {
    const state = await handle.query<LifecycleState>('lifecycle');
    return state.currentTier === 'scale' ? state : undefined;
  }, 'the workflow to reload the upgraded tier');
  upgradeAlert = await waitFor(
    () =>
      h.db
        .selectFrom('alerts')
        .select(['status', 'recipients'])
        .where('contract_id', '=', contractId)
        .where('kind', '=', 'tier_upgraded')
        .where('status', '=', 'sent')
        .executeTakeFirst(),
    'the tier_upgraded alert to be sent',
  );
  outboxFiles = fs.readdirSync(h.outboxDir).filter((name) => name.endsWith('.eml'));
  sentAlertCount = (await h.db.selectFrom('alerts').select('alert_key').where('contract_id', '=', contractId).where('status', '=', 'sent').execute()).length;

  await sleepUntil(h.env, utcMonthStart(now, 2).getTime() + CLOSE_DELAY_MS);
  statement = await waitForClose(h.db, contractId, 0);
  simulated = runSimulation(parseTerms(termsJson), rows, { closeDelayMs: CLOSE_DELAY_MS, contractId }).result.periods[0]!;
  invoices = await storedInvoices(h.db, contractId);
  statement = (await storedStatements(h.db, contractId))[0]!;
});

after(async () => {
  await h?.close();
});

test('event over the cap accepted', () => {
  assert.deepEqual(answers, ['accepted']);
});

test('workflow reloads the upgraded tier', () => {
  assert.equal(lifecycle.currentTier, 'scale');
  assert.equal(lifecycle.periodIndex, 0);
});

test('upgrade alert sent by email', () => {
  assert.equal(upgradeAlert?.status, 'sent');
  assert.deepEqual(upgradeAlert?.recipients, ['dana@vendor.example', 'ap@acme.example']);
  // The outbox keeps one .eml file per Message-ID, so one per alert sent.
  assert.equal(outboxFiles.length, sentAlertCount);
});

test('upgrade audited for admission', async () => {
  const rows = await h.db
    .selectFrom('audit_log')
    .select(['actor', 'action'])
    .where('contract_id', '=', contractId)
    .where('action', 'like', 'tier.%')
    .execute();
  assert.deepEqual(rows, [{ actor: 'system:admission', action: 'tier.upgraded' }]);
});

test('period billed at scale', () => {
  assert.equal(statement.tier, 'scale');
  assert.equal(statement.consumedCredits, '100000');
  assert.equal(statement.overageCredits, '0');
  assert.equal(statement.deferredCredits, '0');
  assert.equal(statement.charges.total, '23000.00');
  assert.equal(invoices[0]?.total, '23000.00');
});

test('statement equals the simulation', () => {
  const { alerts: storedAlerts, ...stored } = statement;
  const { alerts: simulatedAlerts, ...expected } = simulated;
  assert.deepEqual(stored, expected);
  assert.deepEqual(
    storedAlerts.map((alert) => alert.key).sort(),
    simulatedAlerts.map((alert) => alert.key).sort(),
  );
});
