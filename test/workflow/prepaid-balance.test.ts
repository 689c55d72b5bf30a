// A grant that lives across periods keeps exactly the balance its burns leave. A close
// burns a grant once per segment between grant starts and expiries, so a prepaid block
// can burn twice in one period. The next period must see what both burns left.
//
// Growth tier (commit 50,000 credits at 0.20, platform fee 5,000.00, overage 0.26 per
// credit, cap 25,000.00) with a prepaid block of 120,000 credits valid 12 months from the
// start. Burn order: the grant that expires first burns first, so commit, then an
// adjustment grant, then prepaid.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeriodStatement } from '../../src/domain';
import { contractWorkflowId } from '../../src/workflows/messages';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { startHarness, termsStartingAfter, type Harness } from '../support/harness';
import { postUsage, signContract, sleepUntil, storedInvoices, storedStatements, utcMonthStart, waitForClose, type StoredInvoice } from './support';

const DAY_MS = 86_400_000;
const CLOSE_DELAY_MS = 3_600_000;

let h: Harness;
let contractId: string;
let statements: PeriodStatement[];
let invoices: StoredInvoice[];
let answers: string[];

before(async () => {
  quietTemporalRuntime();
  h = await startHarness({ closeDelayMs: CLOSE_DELAY_MS });
  await h.startWorker();
  const now = await h.env.currentTimeMs();
  const start = utcMonthStart(now, 1);
  const end0 = utcMonthStart(now, 2);
  const terms = termsStartingAfter(new Date(now), {
    termMonths: 3,
    prepaid: [{ credits: '120000', discount: '0.15', purchasedOn: start.toISOString().slice(0, 10), expiresAfterMonths: 12 }],
  });
  contractId = await signContract(h, terms);
  const handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));
  const at = (instant: number) => new Date(instant).toISOString();

  // Period 0, day 1: 60,000 credits. Day 10: an adjustment of 1,000 credits starts a new
  // segment. Day 11: 20,000 credits.
  answers = [];
  await sleepUntil(h.env, start.getTime() + DAY_MS);
  answers.push(...(await postUsage(h, contractId, [{ eventId: 'p0-a', meter: 'agent_task', quantity: '6000', occurredAt: at(start.getTime() + DAY_MS) }])));
  await sleepUntil(h.env, start.getTime() + 10 * DAY_MS);
  await handle.executeUpdate('grantCredits', {
    args: [{ credits: '1000', expiresAt: at(end0.getTime() + 5 * DAY_MS), by: 'ops-test', reason: 'goodwill credits' }],
  });
  await sleepUntil(h.env, start.getTime() + 11 * DAY_MS);
  answers.push(...(await postUsage(h, contractId, [{ eventId: 'p0-b', meter: 'agent_task', quantity: '2000', occurredAt: at(start.getTime() + 11 * DAY_MS) }])));

  // Period 1, day 1: 150,000 credits.
  await sleepUntil(h.env, end0.getTime() + DAY_MS);
  await waitForClose(h.db, contractId, 0);
  answers.push(...(await postUsage(h, contractId, [{ eventId: 'p1-a', meter: 'agent_task', quantity: '15000', occurredAt: at(end0.getTime() + DAY_MS) }])));

  await handle.result();
  statements = await storedStatements(h.db, contractId);
  invoices = await storedInvoices(h.db, contractId);
});

after(async () => {
  await h?.close();
});

test('all usage admitted', () => {
  assert.deepEqual(answers, ['accepted', 'accepted', 'accepted']);
});

test('prepaid block invoiced at signing', () => {
  // 120,000 credits x 0.20 x (1 - 0.15) = 20,400.00.
  const prepaid = invoices.find((invoice) => invoice.kind === 'prepaid');
  assert.equal(prepaid?.total, '20400.00');
});

test('prepaid burns in both segments of period 0', async () => {
  // Segment 1: 60,000 = commit 50,000 + prepaid 10,000. Segment 2: 20,000 = adjustment
  // 1,000 + prepaid 19,000. Prepaid burned 29,000 in all.
  const burns = await h.db
    .selectFrom('ledger_movements')
    .select(['grant_id', 'credits'])
    .where('contract_id', '=', contractId)
    .where('period_index', '=', 0)
    .where('kind', '=', 'burn')
    .orderBy('grant_id')
    .execute();
  const byGrant = new Map(burns.map((burn) => [burn.grant_id.replace(/^adjustment-.*/, 'adjustment'), burn.credits]));
  assert.equal(byGrant.get('commit-0'), '50000');
  assert.equal(byGrant.get('adjustment'), '1000');
  assert.equal(byGrant.get('prepaid-0'), '29000');
});

test('period 0 has no overage', () => {
  const period = statements[0]!;
  assert.equal(period.consumedCredits, '80000');
  assert.equal(period.overageCredits, '0');
  assert.equal(period.charges.total, '15000.00');
});

test('period 1 sees the prepaid balance both burns left', () => {
  // Grants cover commit 50,000 + prepaid (120,000 - 29,000 = 91,000) = 141,000 of the
  // 150,000 credits. Overage 9,000 x 0.26 = 2,340.00. Charges 15,000.00 + 2,340.00 = 17,340.00.
  const period = statements[1]!;
  assert.equal(period.consumedCredits, '150000');
  assert.equal(period.overageCredits, '9000');
  assert.equal(period.charges.overage, '2340.00');
  assert.equal(period.charges.total, '17340.00');
});

test('prepaid block used up', async () => {
  const burned = await h.db
    .selectFrom('ledger_movements')
    .select(({ fn }) => fn.sum<string>('credits').as('total'))
    .where('contract_id', '=', contractId)
    .where('grant_id', '=', 'prepaid-0')
    .where('kind', '=', 'burn')
    .executeTakeFirstOrThrow();
  assert.equal(Number(burned.total), 120_000);
});
