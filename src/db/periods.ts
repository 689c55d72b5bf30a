import type { Transaction } from 'kysely';
import {
  commitGrant,
  openPeriodAdmission,
  periodBounds,
  tierByName,
  type PeriodAdmissionState,
  type PeriodStatement,
  type Terms,
} from '../domain';
import type { ContractRow } from './contracts';
import { termsInForce } from './contracts';
import { grantBalances, recordGrant } from './ledger';
import type { Database } from './schema';

export interface PeriodRow {
  contractId: string;
  periodIndex: number;
  start: Date;
  end: Date;
  tier: string;
  admission: PeriodAdmissionState;
  status: 'open' | 'closed';
  statement: PeriodStatement | null;
  closeState: PeriodCloseState | null;
}

/** State a close leaves for the next close and for the invoice and alert activities. */
export interface PeriodCloseState {
  trigger: import('../domain').TriggerState;
  accruedOverage: import('../domain').AccruedOverage[];
  invoices: import('../domain').InvoiceDraft[];
  alerts: import('../domain').AlertToRaise[];
  closedAt: string;
}

/** Returns the tier a period starts with: a downgrade scheduled for it, else the contract's current tier. */
export function tierForPeriod(contract: ContractRow, periodIndex: number): string {
  if (contract.nextTier !== null && contract.nextTierFromPeriod !== null && periodIndex >= contract.nextTierFromPeriod) {
    return contract.nextTier;
  }
  return contract.currentTier;
}

/** Reads a period row under a row lock; undefined when the period has no row yet. */
export async function lockPeriod(trx: Transaction<Database>, contractId: string, periodIndex: number): Promise<PeriodRow | undefined> {
  const row = await trx
    .selectFrom('periods')
    .selectAll()
    .where('contract_id', '=', contractId)
    .where('period_index', '=', periodIndex)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    contractId: row.contract_id,
    periodIndex: row.period_index,
    start: row.start_at,
    end: row.end_at,
    tier: row.tier,
    admission: row.admission as PeriodAdmissionState,
    status: row.status,
    statement: row.statement as PeriodStatement | null,
    closeState: row.close_state as PeriodCloseState | null,
  };
}

/**
 * Returns the period's row under a row lock, creating it when the period has none: the
 * row holds the admission state, and creating it records the period's commit grant (a
 * no-op when the previous close already did). The caller must hold the contract's row
 * lock, which serializes every writer of one contract.
 */
export async function lockOrOpenPeriod(
  trx: Transaction<Database>,
  contract: ContractRow,
  periodIndex: number,
): Promise<PeriodRow> {
  const existing = await lockPeriod(trx, contract.id, periodIndex);
  if (existing) return existing;

  const { terms } = await termsInForce(trx, contract.id, periodIndex);
  const tier = tierForPeriod(contract, periodIndex);
  const bounds = periodBounds(terms, periodIndex);
  await recordGrant(
    trx,
    contract.id,
    commitGrant(terms, periodIndex, tierByName(terms, tier).commitCredits),
    'system',
    Math.max(0, periodIndex - 1),
  );

  const previousPeriodClosed = periodIndex === 0 || (await isPeriodClosed(trx, contract.id, periodIndex - 1));
  const admission = openPeriodAdmission({
    contractId: contract.id,
    terms,
    periodIndex,
    tier,
    grants: await grantBalances(trx, contract.id, periodIndex, bounds.start),
    previousPeriodClosed,
  });
  await trx
    .insertInto('periods')
    .values({
      contract_id: contract.id,
      period_index: periodIndex,
      start_at: bounds.start,
      end_at: bounds.end,
      tier,
      admission: JSON.stringify(admission),
      status: 'open',
    })
    .execute();
  return {
    contractId: contract.id,
    periodIndex,
    start: bounds.start,
    end: bounds.end,
    tier,
    admission,
    status: 'open',
    statement: null,
    closeState: null,
  };
}

export async function isPeriodClosed(trx: Transaction<Database>, contractId: string, periodIndex: number): Promise<boolean> {
  const row = await trx
    .selectFrom('periods')
    .select('status')
    .where('contract_id', '=', contractId)
    .where('period_index', '=', periodIndex)
    .executeTakeFirst();
  return row?.status === 'closed';
}

/** Stores a period's admission state and tier. */
export async function saveAdmission(trx: Transaction<Database>, contractId: string, state: PeriodAdmissionState): Promise<void> {
  await trx
    .updateTable('periods')
    .set({ admission: JSON.stringify(state), tier: state.tier })
    .where('contract_id', '=', contractId)
    .where('period_index', '=', state.periodIndex)
    .execute();
}

/**
 * Records that the period's tier grew to `tier` (an upgrade): the period row, the
 * contract's current tier, and the period's commit grant, whose issued credits become
 * the new tier's commit.
 */
export async function recordUpgrade(
  trx: Transaction<Database>,
  contractId: string,
  terms: Terms,
  periodIndex: number,
  tier: string,
): Promise<void> {
  const commitCredits = tierByName(terms, tier).commitCredits;
  await trx
    .updateTable('periods')
    .set({ tier })
    .where('contract_id', '=', contractId)
    .where('period_index', '=', periodIndex)
    .execute();
  await trx.updateTable('contracts').set({ current_tier: tier }).where('id', '=', contractId).execute();
  await trx
    .updateTable('grants')
    .set({ credits: commitCredits })
    .where('contract_id', '=', contractId)
    .where('grant_id', '=', `commit-${periodIndex}`)
    .execute();
  await trx
    .updateTable('ledger_movements')
    .set({ credits: commitCredits })
    .where('contract_id', '=', contractId)
    .where('grant_id', '=', `commit-${periodIndex}`)
    .where('kind', '=', 'issue')
    .execute();
}
