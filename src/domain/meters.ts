import Decimal from 'decimal.js';
import { DECIMAL_PATTERN, Exact } from './decimal';
import { DomainInputError, UnknownMeterError } from './errors';
import type { Meter, Terms } from './terms-schema';

/** Returns the meter with key `meterKey`, throwing `UnknownMeterError` when the terms define none. */
export function meterByKey(terms: Pick<Terms, 'meters'>, meterKey: string): Meter {
  const meter = terms.meters.find((candidate) => candidate.key === meterKey);
  if (meter === undefined) throw new UnknownMeterError(meterKey, terms.meters.map((m) => m.key));
  return meter;
}

/**
 * Converts a quantity of a meter into credits: `quantity x creditsPerUnit`, exactly.
 * Throws `UnknownMeterError` for a meter the terms do not define and `DomainInputError`
 * for a quantity that is not a decimal >= 0.
 */
export function creditsOf(terms: Pick<Terms, 'meters'>, meterKey: string, quantity: Decimal.Value): Decimal {
  const meter = meterByKey(terms, meterKey);
  const amount = parseQuantity(quantity);
  return amount.times(meter.creditsPerUnit);
}

/** Parses a usage quantity: a decimal >= 0 given as a string or a finite number. */
export function parseQuantity(quantity: Decimal.Value): Decimal {
  const text = typeof quantity === 'string' ? quantity.trim() : quantity;
  if (typeof text === 'string' && !DECIMAL_PATTERN.test(text)) {
    throw DomainInputError.of('Invalid usage', 'quantity', 'decimal', `must be a decimal number >= 0 such as "100", got "${text}"`);
  }
  const amount = new Exact(text);
  if (!amount.isFinite() || amount.isNegative()) {
    throw DomainInputError.of('Invalid usage', 'quantity', 'minimum', `must be a decimal number >= 0, got ${String(quantity)}`);
  }
  return amount;
}
