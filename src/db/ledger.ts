import { sql, type Transaction } from 'kysely';
import { Exact, type Grant, type GrantBalance, type LedgerMovement } from '../domain';
import type { Db } from './connection';
import type { Database } from './schema';

type Executor = Db | Transaction<Database>;

/**
 * Records a grant and its `issue` movement. Grant ids are deterministic per contract
 * (`commit-3`, `rollover-2`), so recording the same grant twice is a no-op; returns
 * whether this call created it.
 */
export async function recordGrant(
  db: Executor,
  contractId: string,
  grant: Grant,
  by: string,
  issuedInPeriod: number,
): Promise<boolean> {
  const inserted = await db
    .insertInto('grants')
    .values({
      contract_id: contractId,
      grant_id: grant.id,
      kind: grant.kind,
      credits: grant.credits,
      valid_from: grant.validFrom,
      expires_at: grant.expiresAt,
      period_index: grant.periodIndex ?? null,
      reason: grant.reason ?? null,
      created_by: by,
    })
    .onConflict((oc) => oc.columns(['contract_id', 'grant_id']).doNothing())
    .executeTakeFirst();
  const created = (inserted.numInsertedOrUpdatedRows ?? 0n) > 0n;
  if (created) {
    await recordMovements(db, contractId, [
      { grantId: grant.id, kind: 'issue', credits: grant.credits, at: grant.validFrom, periodIndex: issuedInPeriod },
    ]);
  }
  return created;
}

/**
 * Records ledger movements, one row per grant, kind and period: the unique key that makes
 * a retried close a no-op. Movements of one grant, kind and period are summed into one row
 * dated at the first of them, because a close burns a grant once per segment between
 * grant starts and expiries. A movement already recorded (same grant, kind and period) is
 * skipped.
 */
export async function recordMovements(db: Executor, contractId: string, movements: readonly LedgerMovement[]): Promise<void> {
  if (movements.length === 0) return;
  await db
    .insertInto('ledger_movements')
    .values(
      mergeMovements(movements).map((m) => ({
        contract_id: contractId,
        grant_id: m.grantId,
        kind: m.kind,
        credits: m.credits,
        at: m.at,
        period_index: m.periodIndex,
      })),
    )
    .onConflict((oc) => oc.columns(['contract_id', 'grant_id', 'kind', 'period_index']).doNothing())
    .execute();
}

/** Sums movements of the same grant, kind and period, in order of first appearance. */
function mergeMovements(movements: readonly LedgerMovement[]): LedgerMovement[] {
  const merged = new Map<string, LedgerMovement>();
  for (const movement of movements) {
    const key = `${movement.grantId}\u0000${movement.kind}\u0000${movement.periodIndex}`;
    const earlier = merged.get(key);
    merged.set(key, earlier ? { ...earlier, credits: new Exact(earlier.credits).plus(movement.credits).toFixed() } : movement);
  }
  return [...merged.values()];
}

function toGrant(row: {
  grant_id: string;
  kind: Grant['kind'];
  credits: string;
  valid_from: Date;
  expires_at: Date;
  period_index: number | null;
  reason: string | null;
}): Grant {
  return {
    id: row.grant_id,
    kind: row.kind,
    credits: row.credits,
    validFrom: row.valid_from.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    ...(row.period_index !== null ? { periodIndex: row.period_index } : {}),
    ...(row.reason !== null ? { reason: row.reason } : {}),
  };
}

/**
 * Returns every grant of the contract that is still valid after `notBefore` with its
 * balance before the movements of period `beforePeriod`: issued minus what earlier
 * periods burned, rolled over, forfeited or expired.
 */
export async function grantBalances(
  db: Executor,
  contractId: string,
  beforePeriod: number,
  notBefore: Date,
): Promise<GrantBalance[]> {
  const rows = await db
    .selectFrom('grants as g')
    .leftJoin(
      (eb) =>
        eb
          .selectFrom('ledger_movements')
          .select(['grant_id', sql<string>`sum(credits)`.as('used')])
          .where('contract_id', '=', contractId)
          .where('kind', '<>', 'issue')
          .where('period_index', '<', beforePeriod)
          .groupBy('grant_id')
          .as('m'),
      (join) => join.onRef('m.grant_id', '=', 'g.grant_id'),
    )
    .select([
      'g.grant_id',
      'g.kind',
      'g.credits',
      'g.valid_from',
      'g.expires_at',
      'g.period_index',
      'g.reason',
      sql<string>`g.credits - coalesce(m.used, 0)`.as('remaining'),
    ])
    .where('g.contract_id', '=', contractId)
    .where('g.expires_at', '>', notBefore)
    .orderBy('g.valid_from')
    .orderBy('g.grant_id')
    .execute();
  return rows.map((row) => ({ grant: toGrant(row), remaining: normalizeDecimal(row.remaining) }));
}

/** Returns every grant of the contract with its current balance, after all recorded movements. */
export async function currentGrantBalances(db: Executor, contractId: string): Promise<GrantBalance[]> {
  return grantBalances(db, contractId, 2_147_483_647, new Date(0));
}

/** Strips trailing fraction zeros that `numeric` arithmetic keeps ("2500.000" becomes "2500"). */
export function normalizeDecimal(value: string): string {
  if (!value.includes('.')) return value;
  const trimmed = value.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed === '-0' ? '0' : trimmed;
}
