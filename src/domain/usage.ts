/**
 * Usage already converted to credits, consumed at one instant. Several events consumed
 * in the same segment between grant starts and expiries may be summed into one item,
 * because the burn only depends on the credits per segment.
 */
export interface UsageItem {
  /** Credits, a decimal string >= 0. */
  credits: string;
  /** Instant the usage is consumed, ISO 8601: the event's time, or its arrival for a late event. */
  consumedAt: string;
}

/**
 * Deferred usage waiting for a later period: `count` consecutive events of `credits`
 * each (one event when `count` is absent), in their original order.
 */
export interface DeferredUsage {
  /** Credits of each event, a decimal string >= 0. */
  credits: string;
  /** Number of consecutive events of this size; 1 when absent. */
  count?: number;
  /**
   * Number of consecutive events whose credits were summed into `credits`, judged
   * together: all are admitted or all deferred. Requires `count` to be 1 or absent.
   */
  summedEvents?: number;
  /** Time the first of these events occurred, ISO 8601. */
  occurredAt: string;
  /** Idempotency key of the event, when the item is one event. */
  eventId?: string;
}

/** Returns the number of events an item stands for. */
export function eventCount(item: { count?: number }): number {
  return item.count ?? 1;
}
