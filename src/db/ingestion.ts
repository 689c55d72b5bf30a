import { sql, type Transaction } from 'kysely';
import {
  admitEvents,
  DomainError,
  Exact,
  meterByKey,
  parseQuantity,
  periodBounds,
  periodIndexAt,
  type AdmissionItem,
  type Terms,
} from '../domain';
import { storeAlerts } from './alerts';
import { recordAudit } from './audit';
import type { Db } from './connection';
import { listTermsVersions, lockContract, type ContractRow, type TermsVersion } from './contracts';
import { lockOrOpenPeriod, recordUpgrade, saveAdmission } from './periods';
import type { Database } from './schema';

/** How far in the future an event's time may be, to allow for clock skew. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

const INSTANT_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

export interface IncomingEvent {
  eventId: string;
  meter: string;
  quantity: string;
  occurredAt: string;
  properties?: Record<string, unknown>;
}

export type EventAnswer =
  | { eventId: string; status: 'accepted'; periodIndex: number; late: boolean }
  | { eventId: string; status: 'duplicate'; periodIndex: number }
  | { eventId: string; status: 'deferred'; periodIndex: number; late: boolean; nextPeriodStart: string }
  | { eventId: string; status: 'rejected'; rule: string; field: string; reason: string };

export interface IngestionOutcome {
  answers: EventAnswer[];
  /** Keys of the alerts admission stored as pending, sent to the workflow by a signal so that it delivers them. */
  alertKeys: string[];
  tierChanges: { periodIndex: number; from: string; to: string }[];
}

export class ContractNotAcceptingUsageError extends Error {
  constructor(
    readonly contractId: string,
    readonly reason: 'not_found' | 'not_signed',
    message: string,
  ) {
    super(message);
    this.name = 'ContractNotAcceptingUsageError';
  }
}

interface Judged {
  index: number;
  event: IncomingEvent;
  credits: string;
  occurredAt: Date;
  consumedAt: Date;
  periodIndex: number;
  late: boolean;
}

function sameContent(stored: { meter: string; quantity: string; occurred_at: Date }, event: IncomingEvent): boolean {
  return (
    stored.meter === event.meter &&
    new Exact(stored.quantity).equals(event.quantity) &&
    stored.occurred_at.getTime() === Date.parse(event.occurredAt)
  );
}

function versionFor(versions: readonly TermsVersion[], periodIndex: number): Terms {
  return versions.filter((v) => v.effectiveFromPeriod <= periodIndex).at(-1)!.terms;
}

/**
 * Ingests a batch of usage events for one contract in one transaction, holding the
 * contract's row lock so that concurrent batches, the close and operations are
 * serialized: admission under the spend cap is exact and no event counts twice. Each
 * event is judged on its own: accepted (admitted), deferred (the cap was reached),
 * duplicate (same id and content as one stored), or rejected with the rule it breaks.
 * Everything acknowledged is committed before this returns.
 */
export async function ingestUsage(
  db: Db,
  input: { contractId: string; events: readonly IncomingEvent[]; arrivedAt: Date; closeDelayMs: number },
): Promise<IngestionOutcome> {
  const { contractId, arrivedAt } = input;
  return db.transaction().execute(async (trx) => {
    const contract = await lockContract(trx, contractId);
    if (!contract) throw new ContractNotAcceptingUsageError(contractId, 'not_found', `Contract ${contractId} was not found.`);
    if (contract.status === 'draft') {
      throw new ContractNotAcceptingUsageError(contractId, 'not_signed', `Contract ${contractId} is a draft; usage is accepted once it is signed.`);
    }

    const versions = await listTermsVersions(trx, contractId);
    const answers: EventAnswer[] = new Array(input.events.length);
    const accepted = await judgeEvents(trx, contract, versions, input, answers);

    const outcome: IngestionOutcome = { answers, alertKeys: [], tierChanges: [] };
    // An upgrade in one period carries into the later periods this batch opens.
    let contractNow: ContractRow = contract;
    const byPeriod = new Map<number, Judged[]>();
    for (const item of accepted) {
      const list = byPeriod.get(item.periodIndex) ?? [];
      list.push(item);
      byPeriod.set(item.periodIndex, list);
    }

    for (const periodIndex of [...byPeriod.keys()].sort((a, b) => a - b)) {
      const items = byPeriod.get(periodIndex)!;
      const terms = versionFor(versions, periodIndex);
      const period = await lockOrOpenPeriod(trx, contractNow, periodIndex);
      const admission = admitEvents(
        period.admission,
        terms,
        items.map(
          (item): AdmissionItem => ({
            credits: item.credits,
            consumedAt: item.consumedAt.toISOString(),
            arrivedAt: arrivedAt.toISOString(),
          }),
        ),
      );

      await insertEvents(trx, contractId, items, admission.admittedEvents, arrivedAt);
      items.forEach((item, position) => {
        answers[item.index] =
          position < admission.admittedEvents
            ? { eventId: item.event.eventId, status: 'accepted', periodIndex, late: item.late }
            : { eventId: item.event.eventId, status: 'deferred', periodIndex, late: item.late, nextPeriodStart: admission.nextPeriodStart };
      });

      for (const change of admission.tierChanges) {
        await recordUpgrade(trx, contractId, terms, periodIndex, change.to);
        contractNow = { ...contractNow, currentTier: change.to };
        await recordAudit(trx, {
          contractId,
          actor: 'system:admission',
          action: 'tier.upgraded',
          reason: `An event did not fit under the spend cap of tier "${change.from}" (cap policy: upgrade).`,
          details: { result: { previousTier: change.from, tier: change.to, effective: 'now', effectiveFromPeriod: periodIndex } },
          at: arrivedAt,
        });
        outcome.tierChanges.push({ periodIndex, from: change.from, to: change.to });
      }
      outcome.alertKeys.push(...(await storeAlerts(trx, contractId, admission.alerts)));
      await saveAdmission(trx, contractId, admission.state);
    }

    return outcome;
  });
}

/** Judges each event's content and attribution, and records the result of each rejected or duplicate event. */
async function judgeEvents(
  trx: Transaction<Database>,
  contract: ContractRow,
  versions: readonly TermsVersion[],
  input: { events: readonly IncomingEvent[]; arrivedAt: Date; closeDelayMs: number },
  answers: EventAnswer[],
): Promise<Judged[]> {
  const { arrivedAt } = input;
  // Amendments keep startDate and timeZone but may change termMonths, so the latest
  // version's term decides where the contract ends.
  const term = versions.at(-1)!.terms;
  const finalIndex = contract.finalPeriodIndex ?? term.termMonths - 1;
  const contractStart = periodBounds(term, 0).start;
  const contractEnd = periodBounds(term, finalIndex).end;
  const reject = (index: number, eventId: string, field: string, rule: string, reason: string) => {
    answers[index] = { eventId, status: 'rejected', field: `events[${index}].${field}`, rule, reason };
  };

  // One array parameter rather than one parameter per id: PostgreSQL parses and plans
  // the lookup of a 1,000-event batch in a fraction of the time.
  const ids = [...new Set(input.events.map((e) => e.eventId))];
  const stored = new Map<string, { meter: string; quantity: string; occurred_at: Date; period_index: number }>();
  const rows = await trx
    .selectFrom('usage_events')
    .select(['event_id', 'meter', 'quantity', 'occurred_at', 'period_index'])
    .where('contract_id', '=', contract.id)
    .where(sql<boolean>`event_id = any(${ids}::text[])`)
    .execute();
  for (const row of rows) stored.set(row.event_id, row);

  const closedPeriods = new Set(
    (
      await trx
        .selectFrom('periods')
        .select('period_index')
        .where('contract_id', '=', contract.id)
        .where('status', '=', 'closed')
        .execute()
    ).map((row) => row.period_index),
  );

  const seenInBatch = new Map<string, { event: IncomingEvent; periodIndex: number }>();
  const judged: Judged[] = [];
  input.events.forEach((event, index) => {
    const { eventId } = event;
    const earlier = stored.get(eventId);
    if (earlier) {
      if (sameContent(earlier, event)) answers[index] = { eventId, status: 'duplicate', periodIndex: earlier.period_index };
      else reject(index, eventId, 'eventId', 'conflict', `Event ${eventId} was already received with a different meter, quantity or time; an event id names one event.`);
      return;
    }
    const inBatch = seenInBatch.get(eventId);
    if (inBatch) {
      const sameAsEarlier =
        inBatch.event.meter === event.meter &&
        new Exact(inBatch.event.quantity).equals(event.quantity) &&
        Date.parse(inBatch.event.occurredAt) === Date.parse(event.occurredAt);
      if (sameAsEarlier) answers[index] = { eventId, status: 'duplicate', periodIndex: inBatch.periodIndex };
      else reject(index, eventId, 'eventId', 'conflict', `Event ${eventId} appears earlier in this batch with a different meter, quantity or time.`);
      return;
    }

    if (!INSTANT_WITH_OFFSET.test(event.occurredAt) || Number.isNaN(Date.parse(event.occurredAt))) {
      reject(index, eventId, 'occurredAt', 'instant_with_offset', `occurredAt "${event.occurredAt}" must be an ISO 8601 instant with an offset, such as 2026-01-15T09:30:00Z.`);
      return;
    }
    const occurredAt = new Date(event.occurredAt);
    if (occurredAt.getTime() > arrivedAt.getTime() + FUTURE_TOLERANCE_MS) {
      reject(index, eventId, 'occurredAt', 'not_in_future', `occurredAt ${event.occurredAt} is more than 5 minutes after the time of arrival (${arrivedAt.toISOString()}).`);
      return;
    }
    if (occurredAt < contractStart) {
      reject(index, eventId, 'occurredAt', 'after_contract_start', `occurredAt ${event.occurredAt} is before the contract starts (${contractStart.toISOString()}).`);
      return;
    }
    if (occurredAt >= contractEnd) {
      reject(index, eventId, 'occurredAt', 'before_contract_end', `occurredAt ${event.occurredAt} is at or after the contract's end (${contractEnd.toISOString()}).`);
      return;
    }

    // An event belongs to its own period while that period is open. Once that period has
    // closed, the event is late: it belongs to the period open at arrival and is consumed then.
    const ownIndex = periodIndexAt(term, occurredAt)!;
    const ownEnd = periodBounds(term, ownIndex).end.getTime();
    const ownOpen = arrivedAt.getTime() < ownEnd + input.closeDelayMs && !closedPeriods.has(ownIndex);
    let periodIndex = ownIndex;
    let consumedAt = occurredAt;
    if (!ownOpen) {
      const arrivalIndex = arrivedAt < contractEnd ? periodIndexAt(term, arrivedAt) : undefined;
      if (arrivalIndex === undefined || arrivalIndex > finalIndex) {
        reject(index, eventId, 'occurredAt', 'contract_open', `Event ${eventId} arrived after the contract's last period closed (${contractEnd.toISOString()} plus the close delay); it cannot be billed.`);
        return;
      }
      periodIndex = arrivalIndex;
      consumedAt = arrivedAt;
    }

    let credits: string;
    try {
      const meter = meterByKey(versionFor(versions, periodIndex), event.meter);
      credits = parseQuantity(event.quantity).times(meter.creditsPerUnit).toFixed();
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const field = error.name === 'UnknownMeterError' ? 'meter' : 'quantity';
      reject(index, eventId, field, field === 'meter' ? 'known_meter' : 'decimal', error.message);
      return;
    }

    seenInBatch.set(eventId, { event, periodIndex });
    judged.push({ index, event, credits, occurredAt, consumedAt, periodIndex, late: !ownOpen });
  });
  return judged;
}

/**
 * Inserts the judged events of one period in arrival order, so `arrival_seq` follows it.
 * The rows travel as one array per column, expanded by `unnest`: 13 parameters for any
 * batch size instead of 13 per row, which saves most of the statement's parse and bind
 * work in the client and in PostgreSQL.
 */
async function insertEvents(
  trx: Transaction<Database>,
  contractId: string,
  items: readonly Judged[],
  admittedCount: number,
  arrivedAt: Date,
): Promise<void> {
  if (items.length === 0) return;
  const columns = {
    eventIds: [] as string[],
    meters: [] as string[],
    quantities: [] as string[],
    credits: [] as string[],
    occurredAt: [] as string[],
    consumedAt: [] as string[],
    periodIndexes: [] as number[],
    late: [] as boolean[],
    statuses: [] as ('admitted' | 'deferred')[],
    consumedPeriodIndexes: [] as (number | null)[],
    properties: [] as (string | null)[],
  };
  items.forEach((item, position) => {
    const admitted = position < admittedCount;
    columns.eventIds.push(item.event.eventId);
    columns.meters.push(item.event.meter);
    columns.quantities.push(new Exact(item.event.quantity).toFixed());
    columns.credits.push(item.credits);
    columns.occurredAt.push(item.occurredAt.toISOString());
    columns.consumedAt.push(item.consumedAt.toISOString());
    columns.periodIndexes.push(item.periodIndex);
    columns.late.push(item.late);
    columns.statuses.push(admitted ? 'admitted' : 'deferred');
    columns.consumedPeriodIndexes.push(admitted ? item.periodIndex : null);
    columns.properties.push(item.event.properties ? JSON.stringify(item.event.properties) : null);
  });

  await sql`
    insert into usage_events (contract_id, event_id, meter, quantity, credits, occurred_at, arrived_at,
      consumed_at, period_index, late, status, consumed_period_index, properties)
    select ${contractId}, e.event_id, e.meter, e.quantity, e.credits, e.occurred_at, ${arrivedAt.toISOString()}::timestamptz,
      e.consumed_at, e.period_index, e.late, e.status, e.consumed_period_index, e.properties
    from unnest(
      ${columns.eventIds}::text[], ${columns.meters}::text[], ${columns.quantities}::numeric[], ${columns.credits}::numeric[],
      ${columns.occurredAt}::timestamptz[], ${columns.consumedAt}::timestamptz[], ${columns.periodIndexes}::integer[],
      ${columns.late}::boolean[], ${columns.statuses}::text[], ${columns.consumedPeriodIndexes}::integer[], ${columns.properties}::jsonb[]
    ) with ordinality as e(event_id, meter, quantity, credits, occurred_at, consumed_at, period_index, late, status,
      consumed_period_index, properties, position)
    order by e.position
  `.execute(trx);
}
