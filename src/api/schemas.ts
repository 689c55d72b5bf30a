import { z } from 'zod';
import { DECIMAL_PATTERN, DraftTermsSchema, TermsSchema } from '../domain';

// Request schemas validate what the routes read; response schemas only document what
// they send, for the OpenAPI document. Decimal amounts are strings throughout.

export const MAX_BATCH_EVENTS = 1000;

const PRINTABLE = /^[\x20-\x7e]+$/;
const INSTANT_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

const contractId = () => z.string().uuid({ error: 'must be a contract id (a UUID)' });
const reason = () =>
  z
    .string({ error: 'must be a string' })
    .trim()
    .min(3, { error: 'must explain the change in at least 3 characters' })
    .max(1000, { error: 'must be at most 1000 characters' });
const decimal = (description: string) => z.string().regex(DECIMAL_PATTERN).describe(description);
const instant = (description: string) => z.string().describe(`${description} (ISO 8601 instant)`);
const limit = (max: number, fallback: number) =>
  z.coerce
    .number({ error: `must be an integer from 1 to ${max}` })
    .int({ error: `must be an integer from 1 to ${max}` })
    .min(1, { error: `must be an integer from 1 to ${max}` })
    .max(max, { error: `must be an integer from 1 to ${max}` })
    .default(fallback);

// ---------------------------------------------------------------------------------------
// Path parameters and queries

export const ContractIdParams = z.strictObject({ id: contractId() });

export const InvoiceNumberParams = z.strictObject({
  number: z.string().regex(/^[1-9][0-9]{0,17}$/, { error: 'must be an invoice number (a positive integer)' }),
});

export const ContractListQuery = z.strictObject({
  status: z.enum(['draft', 'signed', 'ended']).optional(),
  customerId: z.string().min(1).max(200).optional(),
  limit: limit(500, 100),
  after: z.string().uuid({ error: 'must be the id of the last contract of the previous page' }).optional(),
});

export const InvoiceListQuery = z.strictObject({
  contractId: contractId().optional(),
  after: z.string().regex(/^[0-9]{1,18}$/, { error: 'must be the number of the last invoice of the previous page' }).optional(),
  limit: limit(500, 100),
  format: z.literal('json').optional(),
});

export const InvoiceFormatQuery = z.strictObject({
  format: z.enum(['json', 'html'], { error: 'must be json or html' }).optional(),
});

export const AlertListQuery = z.strictObject({
  contractId: contractId().optional(),
  status: z.enum(['pending', 'sent', 'failed'], { error: 'must be pending, sent or failed' }).optional(),
  after: z.string().min(1).max(500).optional().describe('key of the last alert of the previous page'),
  limit: limit(500, 100),
});

export const AuditListQuery = z.strictObject({
  contractId: contractId().optional(),
  after: z.string().regex(/^[0-9]{1,18}$/, { error: 'must be the id of the last entry of the previous page' }).optional(),
  limit: limit(500, 100),
});

export const EmptyQuery = z.strictObject({});

// ---------------------------------------------------------------------------------------
// Request bodies

/** A draft's terms; the route validates them with the domain's parser, which names each broken field. */
export const DraftBody = z.strictObject({ terms: z.unknown() });
export const DraftBodyDocumented = z.strictObject({ terms: DraftTermsSchema });

export const SignBody = z
  .strictObject({
    override: z
      .strictObject({
        reason: z.string({ error: 'must be a string' }).trim().min(10, { error: 'must explain the override in at least 10 characters' }),
      })
      .optional()
      .describe('an approver (admin key) signing despite red flags'),
  })
  .default({});

export const AmendBody = z.strictObject({
  terms: z.unknown().describe('the complete amended terms document'),
  effectiveFromPeriod: z
    .number({ error: 'must be an integer period index' })
    .int({ error: 'must be an integer period index' })
    .min(1, { error: 'must be a future period index (1 or more)' })
    .max(119, { error: 'must be a period index of the term (at most 119)' }),
  reason: reason(),
});

export const AmendBodyDocumented = AmendBody.extend({ terms: TermsSchema });

export const TerminateBody = z.strictObject({ reason: reason() });

export const ChangeTierBody = z.strictObject({
  tier: z.string({ error: 'must be a tier name' }).min(1, { error: 'must be a tier name' }).max(100),
  reason: reason(),
});

export const GrantBody = z.strictObject({
  credits: z
    .string({ error: 'must be a decimal string such as "5000"' })
    .max(40, { error: 'must be at most 40 characters' })
    .regex(DECIMAL_PATTERN, { error: 'must be a decimal string such as "5000"' })
    .refine((value) => /[1-9]/.test(value) && !value.startsWith('-'), { error: 'must be greater than 0' }),
  expiresAt: z
    .string({ error: 'must be an ISO 8601 instant with an offset' })
    .max(64)
    .regex(INSTANT_WITH_OFFSET, { error: 'must be an ISO 8601 instant with an offset, such as 2026-06-30T00:00:00Z' })
    .refine((value) => !Number.isNaN(Date.parse(value)), { error: 'must be a valid instant' }),
  reason: reason(),
  grantId: z
    .string({ error: 'must be a string' })
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, { error: 'must be 1 to 100 letters, digits, ".", "_", ":" or "-"' })
    .optional()
    .describe('caller-chosen id; a second grant with the same id is refused'),
});

/** One event as sent; judged on its own so that one bad event does not fail its batch. */
export const UsageEventSchema = z.strictObject({
  eventId: z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must be 1 to 200 printable characters' })
    .max(200, { error: 'must be 1 to 200 printable characters' })
    .regex(PRINTABLE, { error: 'must be 1 to 200 printable characters' }),
  meter: z.string({ error: 'must be a string' }).min(1).max(64),
  quantity: z.union([
    z.string({ error: 'must be a decimal string such as "100"' }).max(64),
    z.number().finite().transform((n) => String(n)),
  ]),
  occurredAt: z.string({ error: 'must be an ISO 8601 instant with an offset' }).max(64),
  properties: z.record(z.string(), z.unknown()).optional(),
});

export const UsageBody = z.strictObject({
  contractId: contractId(),
  events: z
    .array(z.unknown(), { error: 'must be an array of events' })
    .min(1, { error: 'must hold at least one event' })
    .max(MAX_BATCH_EVENTS, { error: `must hold at most ${MAX_BATCH_EVENTS} events` }),
});

/** The usage body as documented: the route validates each event on its own, so the route schema keeps them unknown. */
export const UsageBodyDocumented = UsageBody.extend({ events: z.array(UsageEventSchema).min(1).max(MAX_BATCH_EVENTS) });

// ---------------------------------------------------------------------------------------
// Responses (documentation only)

export const ProblemSchema = z
  .object({
    type: z.string().describe('urn:trueup:problem:<kind>, stable per kind of problem'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string().describe('such as body.events[3].quantity'), rule: z.string(), message: z.string() }))
      .optional(),
  })
  .describe('RFC 9457 problem document, sent as application/problem+json');

const Charges = z.object({ platformFee: z.string(), commitFee: z.string(), overage: z.string(), total: z.string() });

const Grant = z.object({
  id: z.string(),
  kind: z.enum(['commit', 'rollover', 'prepaid', 'adjustment']),
  credits: z.string(),
  validFrom: z.string(),
  expiresAt: z.string(),
  reason: z.string().optional(),
  remaining: z.string(),
});

const Lifecycle = z
  .object({
    contractId: z.string(),
    status: z.enum(['running', 'completed']),
    periodIndex: z.number().int(),
    closeDueAt: z.string().nullable(),
    currentTier: z.string().nullable(),
    tiers: z.array(z.string()),
    finalPeriodIndex: z.number().int().nullable(),
    closesCompleted: z.number().int(),
  })
  .describe("the contract workflow's lifecycle query; null when the workflow does not run or does not answer in time");

export const ContractSchema = z.object({
  id: z.string(),
  customerId: z.string(),
  customerName: z.string(),
  status: z.enum(['draft', 'signed', 'ended']),
  currentTier: z.string(),
  nextTier: z.string().nullable(),
  nextTierFromPeriod: z.number().int().nullable(),
  finalPeriodIndex: z.number().int().nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
  signedAt: z.string().nullable(),
  signedBy: z.string().nullable(),
  endedAt: z.string().nullable(),
  reviewOverride: z.object({ by: z.string(), reason: z.string(), at: z.string(), redFlags: z.array(z.string()) }).nullable(),
  termsVersions: z.array(
    z.object({
      version: z.number().int(),
      effectiveFromPeriod: z.number().int(),
      terms: z.record(z.string(), z.unknown()),
      createdAt: z.string(),
      createdBy: z.string(),
      reason: z.string().nullable(),
    }),
  ),
  currentPeriod: z
    .object({ index: z.number().int(), start: z.string(), end: z.string(), tier: z.string(), status: z.enum(['open', 'closed']) })
    .nullable(),
  grants: z.array(Grant),
});

export const ContractWithLifecycleSchema = ContractSchema.extend({ lifecycle: Lifecycle.nullable() });

export const ContractListSchema = z.object({
  contracts: z.array(ContractSchema.omit({ termsVersions: true, currentPeriod: true, grants: true })),
  next: z.string().nullable().describe('pass as `after` to read the next page; null on the last page'),
});

export const ReviewSchema = z.object({
  contractId: z.string(),
  version: z.number().int(),
  redFlags: z.array(z.object({ code: z.string(), field: z.string(), message: z.string() })),
  warnings: z.array(z.record(z.string(), z.unknown())),
});

export const AmendResultSchema = z.object({ contractId: z.string(), version: z.number().int(), effectiveFromPeriod: z.number().int() });

export const TerminateResultSchema = z.object({
  contractId: z.string(),
  finalPeriodIndex: z.number().int(),
  endsAt: z.string().describe('end of the final period; its close is the last'),
});

export const ChangeTierResultSchema = z.object({
  contractId: z.string(),
  previousTier: z.string(),
  tier: z.string(),
  effective: z.enum(['now', 'next_period']).describe('`now`: an upgrade of the open period; `next_period`: a downgrade'),
  effectiveFromPeriod: z.number().int(),
});

export const GrantResultSchema = z.object({
  contractId: z.string(),
  grantId: z.string(),
  credits: z.string(),
  validFrom: z.string(),
  expiresAt: z.string(),
});

const EventAnswerSchema = z.discriminatedUnion('status', [
  z.object({ eventId: z.string(), status: z.literal('accepted'), periodIndex: z.number().int(), late: z.boolean() }),
  z.object({ eventId: z.string(), status: z.literal('duplicate'), periodIndex: z.number().int() }),
  z.object({
    eventId: z.string(),
    status: z.literal('deferred'),
    periodIndex: z.number().int(),
    late: z.boolean(),
    nextPeriodStart: instant('when deferred usage is consumed; hold new work until then'),
  }),
  z.object({ eventId: z.string(), status: z.literal('rejected'), rule: z.string(), field: z.string(), reason: z.string() }),
]);

export const UsageResultSchema = z.object({
  contractId: z.string(),
  summary: z.object({ accepted: z.number().int(), deferred: z.number().int(), duplicate: z.number().int(), rejected: z.number().int() }),
  events: z.array(EventAnswerSchema).describe('one answer per event, in the order sent'),
});

export const EntitlementSchema = z.object({
  contractId: z.string(),
  at: z.string(),
  periodIndex: z.number().int(),
  tier: z.string(),
  throttled: z.boolean(),
  creditsBeforeOverage: z.string(),
  creditsBeforeCap: z.string().nullable(),
  overageCredits: z.string(),
  charges: Charges,
  spendCap: z.string().nullable(),
  nextPeriodStart: z.string(),
});

const OpenPeriodSchema = z.object({
  index: z.number().int(),
  status: z.literal('open'),
  start: z.string(),
  end: z.string(),
  tier: z.string(),
  demandCredits: decimal("credits of the period's own events, admitted or deferred"),
  carriedInCredits: z.string(),
  admittedCredits: z.string(),
  deferredCredits: z.string(),
  admittedEvents: z.number().int(),
  deferredEvents: z.number().int(),
  throttled: z.boolean(),
  overageCredits: z.string(),
  charges: Charges.describe('what the period costs so far'),
  tierChanges: z.array(z.object({ from: z.string(), to: z.string(), at: z.string() })),
});

const ClosedPeriodSchema = z.object({
  index: z.number().int(),
  status: z.literal('closed'),
  closedAt: z.string().nullable(),
  statement: z.record(z.string(), z.unknown()).describe('the statement the close recorded: consumed, overage, rollover, forfeit, charges, trigger'),
});

export const PeriodsSchema = z.object({
  contractId: z.string(),
  at: z.string(),
  periods: z.array(z.union([ClosedPeriodSchema, OpenPeriodSchema])),
});

export const InvoiceSchema = z.object({
  number: z.string(),
  contractId: z.string(),
  kind: z.enum(['period', 'prepaid']),
  periodIndex: z.number().int().nullable(),
  currency: z.string(),
  issuedAt: z.string(),
  total: z.string(),
  lines: z.array(
    z.object({
      kind: z.string(),
      description: z.string(),
      quantity: z.string(),
      unitPrice: z.string(),
      amount: z.string(),
      periodIndex: z.number().int().nullable(),
    }),
  ),
});

export const InvoiceListSchema = z.object({ invoices: z.array(InvoiceSchema), next: z.string().nullable() });

export const AlertSchema = z.object({
  key: z.string(),
  contractId: z.string(),
  kind: z.string(),
  periodIndex: z.number().int().nullable(),
  recipients: z.array(z.string()),
  data: z.record(z.string(), z.unknown()),
  status: z.enum(['pending', 'sent', 'failed']),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  messageId: z.string(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
});

export const AlertListSchema = z.object({ alerts: z.array(AlertSchema), next: z.string().nullable() });

export const AuditEntrySchema = z.object({
  id: z.string(),
  contractId: z.string().nullable(),
  actor: z.string().describe('API key id, or system:<part> for the engine itself'),
  action: z.string(),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  at: z.string(),
});

export const AuditListSchema = z.object({ entries: z.array(AuditEntrySchema), next: z.string().nullable() });

export const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  database: z.object({ ok: z.boolean(), error: z.string().optional() }),
  temporal: z.object({ ok: z.boolean(), error: z.string().optional() }),
});
