import type { z } from 'zod';
import { Exact } from './decimal';
import { TermsValidationError, type ValidationIssue } from './errors';
import { DraftTermsSchema, TermsSchema, type CapPolicy, type DraftTerms, type Terms, type Tier, type TrueUpCadence } from './terms-schema';

/** Formats a zod path as `tiers[1].commitCredits`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

function toIssue(input: unknown, issue: z.core.$ZodIssue): ValidationIssue {
  const path = formatPath(issue.path);
  const params = (issue as { params?: { rule?: unknown } }).params;
  if (issue.code === 'custom' && typeof params?.rule === 'string') {
    return { path, rule: params.rule, message: issue.message };
  }
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) {
    return { path, rule: 'required', message: 'is required' };
  }
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => `"${key}"`).join(', ');
    return { path, rule: 'unknown_field', message: `contains unknown field ${keys}; check the spelling against the terms schema` };
  }
  const rule =
    issue.code === 'invalid_type' ? 'type'
      : issue.code === 'invalid_value' ? 'one_of'
        : issue.code === 'too_small' ? 'minimum'
          : issue.code === 'too_big' ? 'maximum'
            : issue.code === 'invalid_format' ? 'format'
              : issue.code;
  return { path, rule, message: issue.message };
}

function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new TermsValidationError(result.error.issues.map((issue) => toIssue(input, issue)));
  }
  return result.data;
}

/**
 * Validates a terms document and returns it typed, or throws `TermsValidationError`
 * listing every broken rule with its field path (`tiers[1].commitCredits`) and rule name.
 */
export function parseTerms(input: unknown): Terms {
  return parseWith(TermsSchema, input);
}

/** Validates a draft under review: the signed rules except those that `reviewTerms` reports as red flags. */
export function parseDraftTerms(input: unknown): DraftTerms {
  return parseWith(DraftTermsSchema, input);
}

/** Returns the tier named `name`, throwing a RangeError naming the tiers when there is none. */
export function tierByName(terms: Pick<Terms, 'tiers'>, name: string): Tier {
  const tier = terms.tiers.find((candidate) => candidate.name === name);
  if (tier === undefined) {
    throw new RangeError(`Unknown tier "${name}": the terms define ${terms.tiers.map((t) => `"${t.name}"`).join(', ')}.`);
  }
  return tier;
}

/** Returns the position of a tier in the terms' list, lowest first. */
export function tierRank(terms: Pick<Terms, 'tiers'>, name: string): number {
  const index = terms.tiers.findIndex((candidate) => candidate.name === name);
  if (index < 0) tierByName(terms, name);
  return index;
}

/** Returns the cap policy. A missing one means `throttle`, because throttling keeps the signed tier's prices. */
export function capPolicyOf(terms: Pick<Terms, 'capPolicy'>): CapPolicy {
  return terms.capPolicy ?? 'throttle';
}

/** Returns the true-up cadence; a missing one means `monthly`. */
export function trueUpOf(terms: Pick<Terms, 'trueUp'>): TrueUpCadence {
  return terms.trueUp ?? 'monthly';
}

/** Returns the overage multiplier; a missing one means 0, that is no overage charge (a review red flag). */
export function overageMultiplierOf(terms: Pick<Terms, 'overageMultiplier'>) {
  return new Exact(terms.overageMultiplier ?? '0');
}
