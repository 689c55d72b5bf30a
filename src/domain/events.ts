import { Exact } from './decimal';
import { DomainError, type ValidationIssue } from './errors';
import { meterByKey, parseQuantity } from './meters';
import { contractEnd, contractStart, periodIndexAt } from './periods';
import type { Terms } from './terms-schema';

/** How far in the future an event's time may lie, to absorb clock skew: 5 minutes. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** Pattern of an event id: 1 to 200 printable ASCII characters. */
export const EVENT_ID_PATTERN = /^[\x20-\x7e]{1,200}$/;

const INSTANT_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/** A usage event as a customer reports it. */
export interface UsageEventInput {
  eventId: string;
  meter: string;
  quantity: string;
  occurredAt: string;
  properties?: Record<string, unknown>;
}

/** A usage event that passed validation, with its credits under the terms in force. */
export interface ValidUsageEvent {
  eventId: string;
  meter: string;
  quantity: string;
  occurredAt: Date;
  credits: string;
}

/**
 * Validates one usage event against the terms at `now`: the id is 1 to 200 printable
 * characters, the meter exists, the quantity is a decimal >= 0, the time has an explicit
 * offset, lies at most 5 minutes in the future and inside the contract's term. Returns
 * the event with its credits, or the issues naming each field and rule.
 */
export function validateUsageEvent(
  terms: Terms,
  event: UsageEventInput,
  now: Date,
): { ok: true; event: ValidUsageEvent } | { ok: false; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  if (typeof event.eventId !== 'string' || !EVENT_ID_PATTERN.test(event.eventId)) {
    issues.push({ path: 'eventId', rule: 'event_id', message: 'must be 1 to 200 printable characters' });
  }
  let credits: string | undefined;
  try {
    const meter = meterByKey(terms, event.meter);
    credits = parseQuantity(event.quantity).times(meter.creditsPerUnit).toFixed();
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    const unknownMeter = error.name === 'UnknownMeterError';
    issues.push({ path: unknownMeter ? 'meter' : 'quantity', rule: unknownMeter ? 'known_meter' : 'quantity', message: error.message });
  }
  const time = typeof event.occurredAt === 'string' && INSTANT_WITH_OFFSET.test(event.occurredAt) ? Date.parse(event.occurredAt) : NaN;
  if (Number.isNaN(time)) {
    issues.push({ path: 'occurredAt', rule: 'instant_with_offset', message: `must be an ISO 8601 instant with an offset such as 2026-01-15T09:30:00Z, got "${String(event.occurredAt)}"` });
  } else if (time > now.getTime() + MAX_FUTURE_SKEW_MS) {
    issues.push({ path: 'occurredAt', rule: 'not_future', message: `must not be more than 5 minutes in the future, got ${event.occurredAt}` });
  } else if (time < contractStart(terms).getTime()) {
    issues.push({ path: 'occurredAt', rule: 'after_start', message: `must not be before the contract starts (${contractStart(terms).toISOString()}), got ${event.occurredAt}` });
  } else if (time >= contractEnd(terms).getTime()) {
    issues.push({ path: 'occurredAt', rule: 'before_end', message: `must be before the contract ends (${contractEnd(terms).toISOString()}), got ${event.occurredAt}` });
  }
  if (issues.length > 0 || credits === undefined) return { ok: false, issues };
  return {
    ok: true,
    event: { eventId: event.eventId, meter: event.meter, quantity: event.quantity, occurredAt: new Date(time), credits },
  };
}

/**
 * Classifies an event whose id is already stored. It is a `duplicate`, counted once,
 * when meter, quantity and time are the same. Quantities compare as numbers ("100"
 * equals "100.0") and times as instants. Otherwise it is a `conflict` and is rejected.
 */
export function classifyRepeatedEvent(
  stored: Pick<UsageEventInput, 'meter' | 'quantity' | 'occurredAt'>,
  incoming: Pick<UsageEventInput, 'meter' | 'quantity' | 'occurredAt'>,
): 'duplicate' | 'conflict' {
  const sameMeter = stored.meter === incoming.meter;
  const sameTime = Date.parse(stored.occurredAt) === Date.parse(incoming.occurredAt);
  let sameQuantity = false;
  try {
    sameQuantity = new Exact(stored.quantity).equals(incoming.quantity);
  } catch {
    sameQuantity = stored.quantity === incoming.quantity;
  }
  return sameMeter && sameTime && sameQuantity ? 'duplicate' : 'conflict';
}

/** Period and consumption instant of an accepted event. */
export interface Attribution {
  periodIndex: number;
  /** Instant the event is consumed, ISO 8601. */
  consumedAt: string;
  late: boolean;
}

/**
 * Attributes an event to a period. It belongs to the period containing `occurredAt`
 * while that period is not closed yet. Closes run in order, so `lastClosedPeriod`
 * (undefined before the first close) marks every closed period. Otherwise it is late: it belongs to the period containing `arrivedAt` and
 * is consumed at its arrival. Returns undefined when that instant lies outside the term.
 */
export function attributeEvent(
  terms: Terms,
  occurredAt: Date,
  arrivedAt: Date,
  lastClosedPeriod: number | undefined,
): Attribution | undefined {
  const own = periodIndexAt(terms, occurredAt);
  if (own === undefined) return undefined;
  if (lastClosedPeriod === undefined || own > lastClosedPeriod) {
    return { periodIndex: own, consumedAt: occurredAt.toISOString(), late: false };
  }
  const open = periodIndexAt(terms, arrivedAt);
  if (open === undefined || open <= lastClosedPeriod) return undefined;
  return { periodIndex: open, consumedAt: arrivedAt.toISOString(), late: true };
}
