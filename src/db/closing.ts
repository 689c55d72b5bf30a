import { sql, type Transaction } from 'kysely';
import {
  admitCarriedIn,
  applyGrantBalances,
  closePeriod,
  initialTriggerState,
  mergeAlerts,
  periodBounds,
  segmentBoundaries,
  type AlertToRaise,
  type CloseInput,
  type DeferredUsage,
  type GrantBalance,
  type PeriodStatement,
  type UsageItem,
} from '../domain';
import type { Db } from './connection';
import { lockContract, termsInForce, type ContractRow } from './contracts';
import { grantBalances, recordMovements } from './ledger';
import { lockOrOpenPeriod, recordUpgrade, saveAdmission, tierForPeriod, type PeriodCloseState } from './periods';
import type { Database } from './schema';
import { storeAlerts } from './alerts';

export interface CloseOutcome {
  statement: PeriodStatement;
  /** False when the period was already closed: a retried or replayed close. */
  closedNow: boolean;
  final: boolean;
}

/**
 * Closes period `periodIndex` of a contract exactly once, in one transaction. It loads
 * the period's usage and the grants' balances and runs the domain close. It records the
 * ledger movements, new grants, the statement, and the invoices and alerts to issue, then
 * hands the deferred usage to the next period's admission. A second call returns the
 * stored statement and changes nothing.
 */
export async function closeContractPeriod(
  db: Db,
  input: { contractId: string; periodIndex: number; finalPeriodIndex: number; closedAt: string },
): Promise<CloseOutcome> {
  const { contractId, periodIndex } = input;
  return db.transaction().execute(async (trx) => {
    // The contract row lock serializes the close with ingestion and operations.
    const contract = await lockContract(trx, contractId);
    if (!contract) throw new Error(`Contract ${contractId} was not found.`);
    const period = await lockOrOpenPeriod(trx, contract, periodIndex);
    if (period.status === 'closed') {
      return { statement: period.statement!, closedNow: false, final: period.statement!.final };
    }

    const { terms, version } = await termsInForce(trx, contractId, periodIndex);
    const final = periodIndex >= input.finalPeriodIndex;
    const bounds = periodBounds(terms, periodIndex);
    const grants = await grantBalances(trx, contractId, periodIndex, bounds.start);
    const previous = periodIndex === 0 ? undefined : await closeStateOf(trx, contractId, periodIndex - 1);

    let next: CloseInput['next'];
    if (!final) {
      const nextTerms = await termsInForce(trx, contractId, periodIndex + 1);
      next = {
        ...(nextTerms.version !== version ? { terms: nextTerms.terms } : {}),
        tier: tierForPeriod(contract, periodIndex + 1),
      };
    }

    const result = closePeriod({
      contractId,
      terms,
      periodIndex,
      tier: period.tier,
      grants,
      admitted: await admittedUsage(trx, contractId, periodIndex, bounds.start, bounds.end, grants),
      deferred: await deferredUsage(trx, contractId, '=', periodIndex),
      carriedIn: {
        admitted: await carriedInAdmitted(trx, contractId, periodIndex),
        deferred: await deferredUsage(trx, contractId, '<', periodIndex),
      },
      trigger: previous?.trigger ?? initialTriggerState(),
      accruedOverage: previous?.accruedOverage ?? [],
      final,
      tierChanges: period.admission.tierChanges,
      ...(next ? { next } : {}),
    });

    for (const grant of result.newGrants) {
      await trx
        .insertInto('grants')
        .values({
          contract_id: contractId,
          grant_id: grant.id,
          kind: grant.kind,
          credits: grant.credits,
          valid_from: grant.validFrom,
          expires_at: grant.expiresAt,
          period_index: grant.periodIndex ?? null,
          created_by: 'system',
        })
        .onConflict((oc) => oc.columns(['contract_id', 'grant_id']).doUpdateSet({ credits: grant.credits }))
        .execute();
    }
    await recordMovements(trx, contractId, result.movements);

    const admissionAlerts = await trx
      .selectFrom('alerts')
      .select(['kind', 'alert_key'])
      .where('contract_id', '=', contractId)
      .where('period_index', '=', periodIndex)
      .execute();
    const statement: PeriodStatement = {
      ...result.statement,
      alerts: mergeAlerts(
        admissionAlerts.map((a) => ({ kind: a.kind, key: a.alert_key }) as AlertToRaise),
        result.alerts,
      ).map((a) => ({ kind: a.kind, key: a.key })),
    };
    const closeState: PeriodCloseState = {
      trigger: result.trigger,
      accruedOverage: result.accruedOverage,
      invoices: result.invoices,
      alerts: result.alerts,
      closedAt: input.closedAt,
    };
    await trx
      .updateTable('periods')
      .set({
        status: 'closed',
        statement: JSON.stringify(statement),
        close_state: JSON.stringify(closeState),
        closed_at: input.closedAt,
      })
      .where('contract_id', '=', contractId)
      .where('period_index', '=', periodIndex)
      .execute();

    if (!final) await handOverToNextPeriod(trx, contract, periodIndex + 1, result.grants, result.deferredOut.length);
    return { statement, closedNow: true, final };
  });
}

async function closeStateOf(trx: Transaction<Database>, contractId: string, periodIndex: number): Promise<PeriodCloseState | undefined> {
  const row = await trx
    .selectFrom('periods')
    .select('close_state')
    .where('contract_id', '=', contractId)
    .where('period_index', '=', periodIndex)
    .executeTakeFirst();
  return (row?.close_state as PeriodCloseState | null) ?? undefined;
}

/**
 * Sums the period's own admitted usage per segment between grant starts and expiries.
 * The burn depends only on those sums, so the close is exact without reading each event.
 * Late events are summed apart so that the statement can show them.
 */
async function admittedUsage(
  trx: Transaction<Database>,
  contractId: string,
  periodIndex: number,
  start: Date,
  end: Date,
  grants: readonly GrantBalance[],
): Promise<(UsageItem & { late: boolean })[]> {
  const boundaries = segmentBoundaries(
    start.getTime(),
    end.getTime(),
    grants.map((g) => g.grant).filter((g) => Date.parse(g.validFrom) < end.getTime() && Date.parse(g.expiresAt) > start.getTime()),
  );
  const rows = await trx
    .selectFrom('usage_events')
    .select([
      sql<number>`width_bucket(extract(epoch from consumed_at) * 1000, ${sql.val(boundaries)}::float8[])`.as('segment'),
      'late',
      sql<string>`sum(credits)`.as('credits'),
    ])
    .where('contract_id', '=', contractId)
    .where('period_index', '=', periodIndex)
    .where('consumed_period_index', '=', periodIndex)
    .groupBy(['segment', 'late'])
    .orderBy('segment')
    .execute();
  return rows.map((row) => ({
    credits: row.credits,
    consumedAt: new Date(boundaries[Number(row.segment) - 1]!).toISOString(),
    late: row.late,
  }));
}

/**
 * Deferred events not consumed yet whose period compares to `periodIndex` by `op`, one
 * item per event: older periods' usage first, each period's in arrival order.
 */
async function deferredUsage(
  trx: Transaction<Database>,
  contractId: string,
  op: '=' | '<',
  periodIndex: number,
): Promise<(DeferredUsage & { eventId: string })[]> {
  const rows = await trx
    .selectFrom('usage_events')
    .select(['event_id', 'credits', 'occurred_at'])
    .where('contract_id', '=', contractId)
    .where('status', '=', 'deferred')
    .where('period_index', op, periodIndex)
    .orderBy('period_index')
    .orderBy('arrival_seq')
    .execute();
  return rows.map((row) => ({ credits: row.credits, occurredAt: row.occurred_at.toISOString(), eventId: row.event_id }));
}

/** Usage of earlier periods that admission consumed at this period's start, in arrival order. */
async function carriedInAdmitted(trx: Transaction<Database>, contractId: string, periodIndex: number): Promise<DeferredUsage[]> {
  const rows = await trx
    .selectFrom('usage_events')
    .select(['event_id', 'credits', 'occurred_at'])
    .where('contract_id', '=', contractId)
    .where('period_index', '<', periodIndex)
    .where('consumed_period_index', '=', periodIndex)
    .orderBy('arrival_seq')
    .execute();
  return rows.map((row) => ({ credits: row.credits, occurredAt: row.occurred_at.toISOString(), eventId: row.event_id }));
}

/**
 * Opens the next period's admission with the balances the close left, then judges the
 * deferred usage carried into it: what fits is consumed at the next period's start,
 * the rest stays deferred. Alerts that this raises belong to the next period.
 */
async function handOverToNextPeriod(
  trx: Transaction<Database>,
  contract: ContractRow,
  nextIndex: number,
  balances: GrantBalance[],
  deferredCount: number,
): Promise<void> {
  const { terms } = await termsInForce(trx, contract.id, nextIndex);
  const nextPeriod = await lockOrOpenPeriod(trx, contract, nextIndex);
  let state = applyGrantBalances(nextPeriod.admission, balances);

  if (deferredCount > 0) {
    const carried = await deferredUsage(trx, contract.id, '<', nextIndex);
    const judged = admitCarriedIn(state, terms, carried);
    state = judged.state;
    const admittedCount = judged.admitted.reduce((n, item) => n + (item.count ?? 1), 0);
    const admittedIds = carried.slice(0, admittedCount).map((item) => item.eventId);
    if (admittedIds.length > 0) {
      await trx
        .updateTable('usage_events')
        .set({ status: 'admitted', consumed_period_index: nextIndex, consumed_at: state.start })
        .where('contract_id', '=', contract.id)
        .where('event_id', 'in', admittedIds)
        .execute();
    }
    for (const change of judged.tierChanges) await recordUpgrade(trx, contract.id, terms, nextIndex, change.to);
    await storeAlerts(trx, contract.id, judged.alerts);
  }

  await saveAdmission(trx, contract.id, state);
  if (contract.nextTier !== null && contract.nextTierFromPeriod !== null && nextIndex >= contract.nextTierFromPeriod) {
    await trx
      .updateTable('contracts')
      .set({ current_tier: contract.nextTier, next_tier: null, next_tier_from_period: null })
      .where('id', '=', contract.id)
      .execute();
  }
}
