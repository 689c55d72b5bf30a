import { z } from 'zod';
import { IANAZone, DateTime } from 'luxon';
import { DECIMAL_PATTERN, Exact } from './decimal';
import { isCurrency, minorUnits, roundMoney } from './money';

/** Pattern of a meter key: a lowercase letter, then up to 63 lowercase letters, digits or underscores. */
export const METER_KEY_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

interface DecimalBounds {
  /** Smallest allowed value, inclusive. */
  min?: string;
  /** Value the decimal must be strictly greater than. */
  greaterThan?: string;
  /** Largest allowed value, inclusive. */
  max?: string;
  /** Value the decimal must be strictly less than. */
  lessThan?: string;
}

/** Builds the schema of a decimal string ("0.20", "50000") within optional bounds; JSON numbers are rejected, so no binary float enters. */
function decimalString(bounds: DecimalBounds = {}) {
  return z
    .string({ error: 'must be a decimal string such as "0.20"' })
    .superRefine((value, ctx) => {
      if (!DECIMAL_PATTERN.test(value)) {
        ctx.addIssue({ code: 'custom', params: { rule: 'decimal' }, message: `must be a decimal string such as "0.20", got "${value}"` });
        return;
      }
      const amount = new Exact(value);
      if (bounds.min !== undefined && amount.lessThan(bounds.min)) {
        ctx.addIssue({ code: 'custom', params: { rule: 'minimum' }, message: `must be at least ${bounds.min}, got ${value}` });
      }
      if (bounds.greaterThan !== undefined && amount.lessThanOrEqualTo(bounds.greaterThan)) {
        ctx.addIssue({ code: 'custom', params: { rule: 'positive' }, message: `must be greater than ${bounds.greaterThan}, got ${value}` });
      }
      if (bounds.max !== undefined && amount.greaterThan(bounds.max)) {
        ctx.addIssue({ code: 'custom', params: { rule: 'maximum' }, message: `must be at most ${bounds.max}, got ${value}` });
      }
      if (bounds.lessThan !== undefined && amount.greaterThanOrEqualTo(bounds.lessThan)) {
        ctx.addIssue({ code: 'custom', params: { rule: 'maximum' }, message: `must be less than ${bounds.lessThan}, got ${value}` });
      }
    });
}

/** Builds the schema of a calendar date `YYYY-MM-DD` that exists (no 31 April). */
function calendarDate() {
  return z.string({ error: 'must be a calendar date such as "2026-01-01"' }).superRefine((value, ctx) => {
    const parsed = DATE_PATTERN.test(value) ? DateTime.fromISO(value, { zone: 'UTC' }) : undefined;
    if (parsed === undefined || !parsed.isValid) {
      ctx.addIssue({ code: 'custom', params: { rule: 'calendar_date' }, message: `must be a calendar date YYYY-MM-DD, got "${value}"` });
    }
  });
}

function integer(min: number, max?: number) {
  const base = z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' });
  const bounded = base.min(min, { error: `must be at least ${min}` });
  return max === undefined ? bounded : bounded.max(max, { error: `must be at most ${max}` });
}

const nonEmpty = () => z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });
const email = () => z.email({ error: 'must be an email address' });

const PartySchema = z.strictObject({ name: nonEmpty(), email: email() });

const MeterSchema = z.strictObject({
  key: z.string({ error: 'must be a string' }).regex(METER_KEY_PATTERN, {
    error: 'must match [a-z][a-z0-9_]{0,63}: a lowercase letter, then up to 63 lowercase letters, digits or underscores',
  }),
  unit: nonEmpty().optional(),
  creditsPerUnit: decimalString({ greaterThan: '0' }),
  kind: z.enum(['usage', 'outcome'], { error: 'must be "usage" or "outcome"' }).optional(),
});

const TierSchema = z.strictObject({
  name: nonEmpty(),
  commitCredits: decimalString({ min: '0' }),
  pricePerCredit: decimalString({ greaterThan: '0' }),
  platformFee: decimalString({ min: '0' }),
  spendCap: decimalString({ min: '0' }).optional(),
});

const PrepaidSchema = z.strictObject({
  credits: decimalString({ greaterThan: '0' }),
  discount: decimalString({ min: '0', lessThan: '1' }),
  purchasedOn: calendarDate(),
  expiresAfterMonths: integer(1, 120),
});

const RenegotiationSchema = z.strictObject({
  basis: z.enum(['commit', 'spendCap'], { error: 'must be "commit" or "spendCap"' }),
  thresholdPercent: decimalString({ greaterThan: '0' }),
  consecutivePeriods: integer(1, 120),
  responseDays: integer(0, 3650),
});

const AlertsSchema = z.strictObject({
  usagePercentOfCommit: z.array(decimalString({ greaterThan: '0' })).optional(),
  spendPercentOfCap: z.array(decimalString({ greaterThan: '0' })).optional(),
  expiryNoticeDays: integer(0, 3650).optional(),
});

const SignedRolloverSchema = z.strictObject({
  fraction: decimalString({ min: '0', max: '1' }),
  expiresAfterDays: integer(1, 3650),
});

const DraftRolloverSchema = z.strictObject({
  fraction: decimalString({ min: '0' }),
  expiresAfterDays: integer(1, 3650).optional(),
});

/**
 * Builds the terms schema around a rollover schema. The draft variant is what a term-sheet review accepts: it
 * also admits a rollover without `expiresAfterDays` or with a fraction above 1, which a
 * signed contract may not have but a review must be able to flag.
 */
function buildTermsSchema<R extends z.ZodType<{ fraction: string; expiresAfterDays?: number }>>(RolloverSchema: R) {
  return z
    .strictObject({
      customer: z.strictObject({ id: nonEmpty(), name: nonEmpty(), billingEmail: email() }),
      accountManager: PartySchema,
      currency: z.string({ error: 'must be a string' }).refine(isCurrency, {
        params: { rule: 'iso_4217' },
        error: 'must be an ISO 4217 currency code such as USD, EUR or JPY',
      }),
      timeZone: z.string({ error: 'must be a string' }).refine((zone) => IANAZone.isValidZone(zone), {
        params: { rule: 'iana_zone' },
        error: 'must be an IANA time zone name such as UTC or America/New_York',
      }),
      startDate: calendarDate(),
      termMonths: integer(1, 120),
      meters: z.array(MeterSchema, { error: 'must be a list of meters' }).min(1, { error: 'must define at least one meter' }),
      tiers: z.array(TierSchema, { error: 'must be a list of tiers' }).min(1, { error: 'must define at least one tier' }),
      initialTier: nonEmpty(),
      overageMultiplier: decimalString({ min: '0' }).optional(),
      capPolicy: z.enum(['throttle', 'upgrade'], { error: 'must be "throttle" or "upgrade"' }).optional(),
      rollover: RolloverSchema.optional(),
      prepaid: z.array(PrepaidSchema).optional(),
      trueUp: z.enum(['monthly', 'quarterly', 'annual'], { error: 'must be "monthly", "quarterly" or "annual"' }).optional(),
      renegotiation: RenegotiationSchema.optional(),
      alerts: AlertsSchema.optional(),
      projection: z.strictObject({ monthlyCredits: decimalString({ min: '0' }) }).optional(),
      clauses: z
        .strictObject({
          mostFavoredNation: z.boolean({ error: 'must be true or false' }).optional(),
          retroactivePricing: z.boolean({ error: 'must be true or false' }).optional(),
        })
        .optional(),
    })
    .superRefine((terms, ctx) => {
      const seenMeters = new Map<string, number>();
      terms.meters.forEach((meter, index) => {
        const first = seenMeters.get(meter.key);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['meters', index, 'key'],
            params: { rule: 'unique' },
            message: `must be unique, but "${meter.key}" is also the key of meters[${first}]`,
          });
        } else {
          seenMeters.set(meter.key, index);
        }
      });

      const seenTiers = new Map<string, number>();
      terms.tiers.forEach((tier, index) => {
        const first = seenTiers.get(tier.name);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['tiers', index, 'name'],
            params: { rule: 'unique' },
            message: `must be unique, but "${tier.name}" is also the name of tiers[${first}]`,
          });
        } else {
          seenTiers.set(tier.name, index);
        }

        const previous = index > 0 ? terms.tiers[index - 1] : undefined;
        if (previous !== undefined && DECIMAL_PATTERN.test(tier.commitCredits) && DECIMAL_PATTERN.test(previous.commitCredits)) {
          if (new Exact(tier.commitCredits).lessThanOrEqualTo(previous.commitCredits)) {
            ctx.addIssue({
              code: 'custom',
              path: ['tiers', index, 'commitCredits'],
              params: { rule: 'commit_increasing' },
              message: `must be larger than the commit of the lower tier "${previous.name}" (${previous.commitCredits}), because tiers are listed from lowest to highest, got ${tier.commitCredits}`,
            });
          }
        }

        const digits = isCurrency(terms.currency) ? minorUnits(terms.currency) : undefined;
        for (const field of ['platformFee', 'spendCap'] as const) {
          const amount = tier[field];
          if (digits === undefined || amount === undefined || !DECIMAL_PATTERN.test(amount)) continue;
          if (new Exact(amount).decimalPlaces() > digits) {
            ctx.addIssue({
              code: 'custom',
              path: ['tiers', index, field],
              params: { rule: 'minor_unit' },
              message: `must have at most ${digits} decimal ${digits === 1 ? 'place' : 'places'}, the minor unit of ${terms.currency}, got ${amount}`,
            });
          }
        }

        const numbers = [tier.spendCap, tier.platformFee, tier.commitCredits, tier.pricePerCredit];
        if (tier.spendCap !== undefined && digits !== undefined && numbers.every((value) => value !== undefined && DECIMAL_PATTERN.test(value))) {
          // The commit fee is billed rounded, so the cap is compared with the rounded fee.
          const commitFee = roundMoney(new Exact(tier.commitCredits).times(tier.pricePerCredit), terms.currency);
          const fees = new Exact(tier.platformFee).plus(commitFee);
          if (new Exact(tier.spendCap).lessThan(fees)) {
            ctx.addIssue({
              code: 'custom',
              path: ['tiers', index, 'spendCap'],
              params: { rule: 'cap_covers_fees' },
              message: `must be at least the platform fee plus the commit fee (${fees.toFixed()}), got ${tier.spendCap}`,
            });
          }
        }
      });

      if (!seenTiers.has(terms.initialTier)) {
        ctx.addIssue({
          code: 'custom',
          path: ['initialTier'],
          params: { rule: 'known_tier' },
          message: `must name one of the tiers (${[...seenTiers.keys()].map((name) => `"${name}"`).join(', ')}), got "${terms.initialTier}"`,
        });
      }

      const multiplier = terms.overageMultiplier;
      if (multiplier !== undefined && DECIMAL_PATTERN.test(multiplier)) {
        const value = new Exact(multiplier);
        if (!value.isZero() && value.lessThan(1)) {
          ctx.addIssue({
            code: 'custom',
            path: ['overageMultiplier'],
            params: { rule: 'minimum' },
            message: `must be at least 1 (or 0 for no overage charge, which a review flags), got ${multiplier}`,
          });
        }
      }
    });
}

/** Schema of a signed terms document; see `parseTerms` for the error format. */
export const TermsSchema = buildTermsSchema(SignedRolloverSchema);

/** Schema of a draft terms document under review: the signed rules, except those a red flag reports. */
export const DraftTermsSchema = buildTermsSchema(DraftRolloverSchema);

/** A signed terms document as JSON: amounts are decimal strings, optional fields may be absent. */
export type Terms = z.infer<typeof TermsSchema>;

/** A draft terms document under review; every `Terms` is also a `DraftTerms`. */
export type DraftTerms = z.infer<typeof DraftTermsSchema>;

export type Tier = Terms['tiers'][number];
export type Meter = Terms['meters'][number];
export type PrepaidBlock = NonNullable<Terms['prepaid']>[number];
export type CapPolicy = 'throttle' | 'upgrade';
export type TrueUpCadence = 'monthly' | 'quarterly' | 'annual';
