import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  patched,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { ContractActivities, Schedule } from '../activities/contract-activities';
import {
  alertsRaisedSignal,
  amendUpdate,
  changeTierUpdate,
  grantCreditsUpdate,
  lifecycleQuery,
  terminateUpdate,
  type ContractWorkflowInput,
  type LifecycleState,
} from './messages';

// Database work is short; a long outage is ridden out by retries, never by failing the close.
const activities = proxyActivities<ContractActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

// Email delivery retries for about half an hour. If SMTP is still down or rejects the
// message, the workflow tries again an hour later, so an outage does not hold up a close
// for more than about half an hour.
const delivery = proxyActivities<Pick<ContractActivities, 'deliverAlerts'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 8 },
});

const REDELIVERY_DELAY_MS = 60 * 60 * 1000;

export const TIER_CHANGE_REJECTED = 'TierChangeRejected';

/** Patch id of the close that carries the schedule across continue-as-new. */
export const LEAN_CLOSE_PATCH = 'lean-close-v1';

/**
 * Runs one signed contract: waits for each period's close time (its end plus the close
 * delay), closes it through activities, and continues as new with the next period, so
 * each run's history contains one close. After downtime every elapsed close runs in order,
 * one run each. Operations (tier changes, amendments, grants, termination) are updates,
 * serialized with the close by one lock, and each is recorded in the audit log.
 */
export async function contractWorkflow(input: ContractWorkflowInput): Promise<LifecycleState> {
  const { contractId, periodIndex } = input;
  // Handlers are set before the first await, so operations sent at once are not refused.
  let schedule: Schedule | undefined;
  let closesCompleted = 0;
  let scheduleStale = false;
  let busy = false;
  // Alerts stay pending in PostgreSQL until sent, so this flag only marks that a delivery is due.
  let deliveryDue = input.deliveryDue ?? false;

  const state = (): LifecycleState => ({
    contractId,
    status: schedule?.ended ? 'completed' : 'running',
    periodIndex,
    closeDueAt: schedule?.closeDueAt ?? null,
    currentTier: schedule?.currentTier ?? null,
    tiers: schedule?.tiers ?? [],
    finalPeriodIndex: schedule?.finalPeriodIndex ?? null,
    closesCompleted,
  });

  // One operation at a time, the close included: each reads and writes the business record.
  async function exclusive<T>(work: () => Promise<T>): Promise<T> {
    await condition(() => !busy);
    busy = true;
    try {
      return await work();
    } finally {
      busy = false;
    }
  }

  // An operation an activity rejected fails the update with the activity's own reason,
  // not the activity wrapper, so the caller reads why.
  async function operation<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await exclusive(work);
    } catch (error) {
      if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) throw error.cause;
      throw error;
    }
  }

  function operationKey(): string {
    return currentUpdateInfo()?.id ?? `${contractId}:${Date.now()}`;
  }

  // The input of an operation's activity: the request, the workflow's time and the update's id.
  function operationInput<R>(request: R) {
    return { contractId, request, now: new Date().toISOString(), operationKey: operationKey() };
  }

  setHandler(lifecycleQuery, state);

  setHandler(alertsRaisedSignal, (signal) => {
    if (signal.alertKeys.length > 0) deliveryDue = true;
    if (signal.tier !== undefined) scheduleStale = true;
  });

  let redeliverAt: number | undefined;

  // Alerts that fail stay pending in PostgreSQL; a later attempt sends them.
  async function deliverPendingAlerts(): Promise<void> {
    deliveryDue = false;
    redeliverAt = undefined;
    try {
      await delivery.deliverAlerts({ contractId, now: new Date().toISOString() });
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      redeliverAt = Date.now() + REDELIVERY_DELAY_MS;
    }
  }

  setHandler(
    changeTierUpdate,
    (request) =>
      operation(async () => {
        const result = await activities.changeTier(operationInput(request));
        scheduleStale = true;
        if (result.effective === 'now') {
          // The validator of the next request reads this tier before the schedule reloads.
          if (schedule !== undefined) schedule = { ...schedule, currentTier: result.tier };
          // An upgrade stores a tier_upgraded alert for the account manager and the customer.
          deliveryDue = true;
        }
        return result;
      }),
    {
      validator: (request) => {
        if (!request.by || !request.reason) {
          throw ApplicationFailure.nonRetryable(
            'A tier change needs who asks for it (by) and why (reason).',
            TIER_CHANGE_REJECTED,
            { contractId, field: request.by ? 'reason' : 'by' },
          );
        }
        // Before the first schedule is loaded the activity alone validates the request.
        if (schedule === undefined) return;
        if (!schedule.tiers.includes(request.tier)) {
          throw ApplicationFailure.nonRetryable(
            `Tier "${request.tier}" is not one of this contract's tiers (${schedule.tiers.join(', ')}).`,
            TIER_CHANGE_REJECTED,
            { contractId, field: 'tier' },
          );
        }
        if (request.tier === schedule.currentTier) {
          throw ApplicationFailure.nonRetryable(
            `The contract is already on tier "${request.tier}".`,
            TIER_CHANGE_REJECTED,
            { contractId, field: 'tier' },
          );
        }
      },
    },
  );

  setHandler(amendUpdate, (request) =>
    operation(async () => {
      const result = await activities.amendTerms(operationInput(request));
      scheduleStale = true;
      return result;
    }),
  );

  setHandler(grantCreditsUpdate, (request) =>
    operation(() => activities.grantCredits(operationInput(request))),
  );

  setHandler(terminateUpdate, (request) =>
    operation(async () => {
      const result = await activities.terminate(operationInput(request));
      scheduleStale = true;
      return result;
    }),
  );

  // Runs recorded before this patch load the schedule at start and again after the close,
  // and always run the delivery activity. Patched runs take the schedule the previous run
  // carried over and deliver only when alerts are pending: half the activities per close.
  const leanClose = patched(LEAN_CLOSE_PATCH);

  schedule =
    leanClose && input.schedule !== undefined
      ? input.schedule
      : await exclusive(() => activities.loadSchedule({ contractId, periodIndex }));
  if (schedule.ended) return state();

  // Wait for the close, delivering alerts that ingestion raises meanwhile.
  for (;;) {
    const closeDue = Date.parse(schedule.closeDueAt);
    if (closeDue <= Date.now()) break;
    const wakeAt = redeliverAt === undefined ? closeDue : Math.min(closeDue, redeliverAt);
    await condition(() => deliveryDue || scheduleStale, Math.max(1, wakeAt - Date.now()));

    if (deliveryDue || (redeliverAt !== undefined && Date.now() >= redeliverAt)) await deliverPendingAlerts();
    if (scheduleStale) {
      scheduleStale = false;
      schedule = await exclusive(() => activities.loadSchedule({ contractId, periodIndex }));
    }
  }

  const { closed, raised } = await exclusive(async () => {
    const closedAt = new Date().toISOString();
    const closeResult = await activities.closePeriod({ contractId, periodIndex, closedAt });
    await activities.issueInvoices({ contractId, periodIndex });
    const raiseResult = await activities.raiseAlerts({ contractId, periodIndex });
    return { closed: closeResult, raised: raiseResult };
  });
  closesCompleted += 1;

  const alertsPending = (raised.pendingAlerts ?? 1) > 0 || deliveryDue || redeliverAt !== undefined;
  if (!leanClose || alertsPending) await deliverPendingAlerts();

  let final: boolean;
  let nextSchedule: Schedule | undefined;
  if (leanClose) {
    final = closed.final;
    nextSchedule = closed.nextSchedule ?? undefined;
  } else {
    schedule = await activities.loadSchedule({ contractId, periodIndex });
    final = schedule.finalPeriodIndex === periodIndex;
  }
  await condition(allHandlersFinished);

  if (final) {
    await activities.completeContract({ contractId, endedAt: new Date().toISOString() });
    return { ...state(), status: 'completed' };
  }

  return continueAsNew<typeof contractWorkflow>({
    contractId,
    periodIndex: periodIndex + 1,
    deliveryDue: deliveryDue || redeliverAt !== undefined,
    // An operation handled after the close may have changed the schedule: the next run reloads it.
    ...(nextSchedule !== undefined && !scheduleStale ? { schedule: nextSchedule } : {}),
  });
}
