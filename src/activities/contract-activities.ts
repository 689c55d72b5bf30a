import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { contractEnd, periodBounds, periodIndexAt, tierRank, type Terms } from '../domain';
import type { Db } from '../db/connection';
import { findContract, termsInForce } from '../db/contracts';
import { deliverPendingAlerts } from './alert-delivery';
import type { Mailer } from './mailer';
import { createCloseActivities } from './close-activities';
import { createOperationActivities } from './operation-activities';

export interface ActivityDeps {
  db: Db;
  mailer: Mailer;
  closeDelayMs: number;
  publicUrl: string;
  logger: Logger;
}

export interface Schedule {
  periodIndex: number;
  start: string;
  end: string;
  /** When the close of `periodIndex` is due: its end plus the close delay. */
  closeDueAt: string;
  currentTier: string;
  /** Tier names of the terms in force, lowest first. */
  tiers: string[];
  /** Index of the contract's last period: the term's, or the termination's. */
  finalPeriodIndex: number;
  /** True once the contract has ended and its final close is recorded. */
  ended: boolean;
}

export const CONTRACT_NOT_FOUND = 'ContractNotFound';

/** Raises a non-retryable failure: retrying cannot fix a contract that does not exist. */
export function contractNotFound(contractId: string): never {
  throw ApplicationFailure.nonRetryable(`Contract ${contractId} was not found.`, CONTRACT_NOT_FOUND, { contractId });
}

/** Returns the index of the contract's last period: the term's last, or the termination's. */
export function finalPeriodOf(terms: Terms, contract: { finalPeriodIndex: number | null }): number {
  return contract.finalPeriodIndex ?? terms.termMonths - 1;
}

/**
 * Builds the contract workflow's activities from their dependencies. Every activity is
 * idempotent by a business key (contract and period, alert key, operation key), so a
 * retry or a replayed workflow changes nothing.
 */
export function createContractActivities(deps: ActivityDeps) {
  const { db } = deps;

  async function loadSchedule(input: { contractId: string; periodIndex: number }): Promise<Schedule> {
    const contract = await findContract(db, input.contractId);
    if (!contract || contract.status === 'draft') contractNotFound(input.contractId);

    const { terms } = await termsInForce(db, input.contractId, input.periodIndex);
    const bounds = periodBounds(terms, input.periodIndex);
    return {
      periodIndex: input.periodIndex,
      start: bounds.start.toISOString(),
      end: bounds.end.toISOString(),
      closeDueAt: new Date(bounds.end.getTime() + deps.closeDelayMs).toISOString(),
      currentTier: contract.currentTier,
      tiers: [...terms.tiers].sort((a, b) => tierRank(terms, a.name) - tierRank(terms, b.name)).map((t) => t.name),
      finalPeriodIndex: finalPeriodOf(terms, contract),
      ended: contract.status === 'ended',
    };
  }

  async function deliverAlerts(input: { contractId: string; now: string }) {
    const result = await deliverPendingAlerts(
      { db, mailer: deps.mailer, logger: deps.logger, publicUrl: deps.publicUrl },
      input.contractId,
      new Date(input.now),
    );
    return { sent: result.sent.length };
  }

  async function completeContract(input: { contractId: string; endedAt: string }): Promise<void> {
    await db
      .updateTable('contracts')
      .set({ status: 'ended', ended_at: input.endedAt })
      .where('id', '=', input.contractId)
      .where('status', '=', 'signed')
      .execute();
    deps.logger.info({ contractId: input.contractId }, 'contract ended');
  }

  const close = createCloseActivities(deps);

  /** Closes a period and returns the next period's schedule, so the next run need not load it. */
  async function closePeriod(input: { contractId: string; periodIndex: number; closedAt: string }) {
    const result = await close.closePeriod(input);
    const nextSchedule = result.final ? null : await loadSchedule({ contractId: input.contractId, periodIndex: input.periodIndex + 1 });
    return { ...result, nextSchedule };
  }

  return {
    loadSchedule,
    deliverAlerts,
    completeContract,
    ...close,
    closePeriod,
    ...createOperationActivities(deps),
  };
}

export type ContractActivities = ReturnType<typeof createContractActivities>;

/** Returns the period open at `now`, or undefined outside the contract's term. */
export function openPeriodAt(terms: Terms, now: Date): number | undefined {
  if (now.getTime() >= contractEnd(terms).getTime()) return undefined;
  return periodIndexAt(terms, now);
}
