import Decimal from 'decimal.js';

/**
 * Decimal constructor used for every amount of money and credits in the domain.
 *
 * decimal.js rounds results to 20 significant digits by default, which would silently
 * round large sums of credits. This clone keeps 100 significant digits, so sums and
 * products of credits, prices and quantities stay exact for any realistic contract.
 * Rounding to a currency's minor unit is done only by `roundMoney`.
 */
export const Exact = Decimal.clone({ precision: 100, rounding: Decimal.ROUND_HALF_EVEN });

/** An exact decimal value: an `Exact` instance. */
export type ExactDecimal = Decimal;

/** Pattern of a decimal string in a JSON document: optional minus, digits, optional fraction. */
export const DECIMAL_PATTERN = /^-?\d+(\.\d+)?$/;

/** Parses a decimal string or number into an exact decimal. */
export function exact(value: Decimal.Value): Decimal {
  return new Exact(value);
}

/** Sums decimal values exactly. */
export function sumExact(values: Iterable<Decimal.Value>): Decimal {
  let total = new Exact(0);
  for (const value of values) total = total.plus(value);
  return total;
}

/** Formats an exact decimal as a plain decimal string without exponent ("2500", "0.001"). */
export function decimalString(value: Decimal.Value): string {
  return new Exact(value).toFixed();
}
