import { DateTime } from 'luxon';
import type { AlertKind, AlertToRaise } from '../domain/alerts';
import { overageUnitPrice } from '../domain/charges';
import { Exact } from '../domain/decimal';
import { formatMoney, minorUnits } from '../domain/money';
import { periodBounds } from '../domain/periods';
import type { Terms, Tier } from '../domain/terms-schema';

/** Context of an alert message besides the alert: the contract, its customer and terms, and the API's public URL. */
export interface AlertMessageContext {
  contractId: string;
  customerName: string;
  currency: string;
  /** The terms version in force for the alert's period. */
  terms: Terms;
  /** Public base URL of the API, without a trailing slash, for the links in the message. */
  publicUrl: string;
}

/** One email: the subject and the same content as plain text and as HTML. */
export interface AlertMessage {
  subject: string;
  text: string;
  html: string;
}

/** An alert as stored or as raised: a period index of null means the alert belongs to no period. */
export type RenderableAlert = Pick<AlertToRaise, 'kind' | 'key' | 'data'> & { periodIndex: number | null };

/**
 * Content blocks shared by the text and the HTML rendering, so both forms contain the
 * same facts. Every string is plain text, and only the HTML renderer escapes it.
 */
type Block =
  | { type: 'paragraph'; text: string }
  | { type: 'facts'; rows: readonly (readonly [label: string, value: string])[] }
  | { type: 'list'; title: string; items: readonly string[] }
  | { type: 'links'; title: string; items: readonly (readonly [label: string, url: string])[] };

interface MessageContent {
  subject: string;
  blocks: Block[];
}

/** Raised when an alert's data lacks a field its kind needs or has a value of the wrong type. */
export class AlertDataError extends Error {
  constructor(alert: RenderableAlert, field: string, expected: string) {
    super(`Alert "${alert.key}" of kind ${alert.kind} has an invalid data field "${field}": expected ${expected}.`);
    this.name = 'AlertDataError';
  }
}

/**
 * Renders the email of one alert for the person who receives it: a subject naming the
 * customer and what happened, and a body as plain text and as HTML with the same
 * content. Money is shown with the currency's minor digits and code ("25,000.00 USD"),
 * credits and money with thousands separators. Every interpolated value is escaped in
 * the HTML. Throws an `AlertDataError` when the alert's data lacks a field its kind
 * needs, and a RangeError for an unknown kind.
 */
export function renderAlertMessage(alert: RenderableAlert, context: AlertMessageContext): AlertMessage {
  const content = contentOf(alert, context);
  const footer: Block = {
    type: 'paragraph',
    text: `Contract ${context.contractId} (${context.customerName}). Alert key: ${alert.key}.`,
  };
  const blocks = [...content.blocks, footer];
  return {
    subject: singleLine(content.subject),
    text: renderText(blocks),
    html: renderHtml(content.subject, blocks),
  };
}

function contentOf(alert: RenderableAlert, context: AlertMessageContext): MessageContent {
  const renderers: Record<AlertKind, (alert: RenderableAlert, context: AlertMessageContext) => MessageContent> = {
    renegotiation_trigger: renegotiationTriggerContent,
    usage_threshold: usageThresholdContent,
    spend_threshold: spendThresholdContent,
    throttled: throttledContent,
    tier_upgraded: tierUpgradedContent,
    credits_expiring: creditsExpiringContent,
    unbilled_deferred_usage: unbilledDeferredContent,
  };
  const render = Object.prototype.hasOwnProperty.call(renderers, alert.kind) ? renderers[alert.kind] : undefined;
  if (render === undefined) {
    throw new RangeError(`Alert "${alert.key}" has an unknown kind "${String(alert.kind)}": no message is defined for it.`);
  }
  return render(alert, context);
}

// ---------------------------------------------------------------------------------------
// One message per alert kind.

function renegotiationTriggerContent(alert: RenderableAlert, context: AlertMessageContext): MessageContent {
  const trigger = readTriggerData(alert);
  const { terms, currency, customerName } = context;
  const count = trigger.periods.length;
  const tiers = terms.tiers;
  const currentIndex = tiers.findIndex((tier) => tier.name === trigger.tier);
  const current = tiers[currentIndex];
  const next = currentIndex >= 0 ? tiers[currentIndex + 1] : undefined;

  const blocks: Block[] = [];
  if (trigger.basis === 'commit') {
    blocks.push({
      type: 'paragraph',
      text: `${customerName}'s demand exceeded ${trigger.thresholdPercent}% of the commit in ${count} consecutive ${plural(count, 'period')}, so the contract's renegotiation trigger fired.`,
    });
    // The tier is missing only when the terms version in force renamed it; the list then goes without the threshold.
    const commitCredits = current?.commitCredits;
    const threshold = commitCredits === undefined ? undefined : new Exact(commitCredits).times(trigger.thresholdPercent).dividedBy(100).toFixed();
    blocks.push({
      type: 'list',
      title:
        commitCredits === undefined || threshold === undefined
          ? `Demand of each period, against ${trigger.thresholdPercent}% of the ${trigger.tier} tier's commit:`
          : `Demand of each period, against the threshold of ${formatCredits(threshold)} credits (${trigger.thresholdPercent}% of the ${trigger.tier} tier's commit of ${formatCredits(commitCredits)} credits):`,
      items: trigger.periods.map((period) => {
        const excess = threshold === undefined ? '' : `, ${formatCredits(new Exact(period.demandCredits).minus(threshold).toFixed())} credits above the threshold`;
        return `${periodLabel(terms, period.periodIndex)}: ${formatCredits(period.demandCredits)} credits${excess}`;
      }),
    });
  } else {
    const cap = current?.spendCap;
    const capText = cap === undefined ? `the spend cap of the ${trigger.tier} tier` : `the spend cap of ${formatAmount(cap, currency)}`;
    blocks.push({
      type: 'paragraph',
      text: `${customerName}'s demand would have cost more than ${capText} in ${count} consecutive ${plural(count, 'period')} had the cap not applied, so the contract's renegotiation trigger fired.`,
    });
    blocks.push({
      type: 'list',
      title: 'Demand of each period, admitted and deferred:',
      items: trigger.periods.map((period) => `${periodLabel(terms, period.periodIndex)}: ${formatCredits(period.demandCredits)} credits`),
    });
  }
  blocks.push({ type: 'facts', rows: [['Respond by', trigger.respondBy]] });

  const tierRows: [string, string][] = [['Current tier', current ? describeTier(current, terms) : trigger.tier]];
  if (next) tierRows.push(['Next tier up', describeTier(next, terms)]);
  blocks.push({ type: 'facts', rows: tierRows });
  if (current && !next) {
    blocks.push({
      type: 'paragraph',
      text: `${current.name} is the highest tier of the contract, so a renegotiation needs new terms, such as a higher tier or a new price.`,
    });
  }
  blocks.push({
    type: 'paragraph',
    text: `Please contact ${customerName} before the respond-by date to discuss ${next ? `a move to the ${next.name} tier or an amendment of the terms` : 'an amendment of the terms'}.`,
  });
  blocks.push(contractLinks(context));

  return {
    subject: `${customerName}: renegotiation trigger fired, respond by ${trigger.respondBy}`,
    blocks,
  };
}

function usageThresholdContent(alert: RenderableAlert, context: AlertMessageContext): MessageContent {
  const percent = stringField(alert, 'percent');
  const tierName = stringField(alert, 'tier');
  const commitCredits = stringField(alert, 'commitCredits');
  const thresholdCredits = stringField(alert, 'thresholdCredits');
  const period = periodLabel(context.terms, alert.periodIndex);
  const tier = findTier(context.terms, tierName);

  const blocks: Block[] = [
    {
      type: 'paragraph',
      text: `Usage of ${context.customerName} in ${period} has reached ${percent}% of the monthly commit: ${formatCredits(thresholdCredits)} of the ${formatCredits(commitCredits)} credits the ${tierName} tier includes.`,
    },
  ];
  if (tier && new Exact(percent).greaterThanOrEqualTo(100)) {
    blocks.push({
      type: 'paragraph',
      text: `Usage the commit and other credit grants do not cover is billed as overage at ${formatUnitPrice(overageUnitPrice(context.terms, tier).toFixed(), context.currency)} per credit.`,
    });
  } else if (tier) {
    blocks.push({
      type: 'paragraph',
      text: `Once the commit and other credit grants are used up, further usage is billed as overage at ${formatUnitPrice(overageUnitPrice(context.terms, tier).toFixed(), context.currency)} per credit.`,
    });
  }
  blocks.push(contractLinks(context));
  return { subject: `${context.customerName}: usage reached ${percent}% of the commit in ${period}`, blocks };
}

function spendThresholdContent(alert: RenderableAlert, context: AlertMessageContext): MessageContent {
  const percent = stringField(alert, 'percent');
  const tierName = stringField(alert, 'tier');
  const spendCap = optionalStringField(alert, 'spendCap');
  const period = periodLabel(context.terms, alert.periodIndex);

  const blocks: Block[] = [];
  if (spendCap === null) {
    blocks.push({ type: 'paragraph', text: `The charges of ${context.customerName} in ${period} have reached ${percent}% of the spend cap of the ${tierName} tier.` });
  } else {
    const reached = new Exact(spendCap).times(percent).dividedBy(100).toFixed();
    blocks.push({
      type: 'paragraph',
      text: `The charges of ${context.customerName} in ${period} have reached ${percent}% of the spend cap: ${formatAmount(reached, context.currency)} of the ${formatAmount(spendCap, context.currency)} that the ${tierName} tier allows in one period.`,
    });
  }
  blocks.push({ type: 'paragraph', text: capPolicyText(context.terms) });
  blocks.push(contractLinks(context));
  return { subject: `${context.customerName}: charges reached ${percent}% of the spend cap in ${period}`, blocks };
}

function throttledContent(alert: RenderableAlert, context: AlertMessageContext): MessageContent {
  const tierName = stringField(alert, 'tier');
  const spendCap = optionalStringField(alert, 'spendCap');
  const nextPeriodStart = stringField(alert, 'nextPeriodStart');
  const period = periodLabel(context.terms, alert.periodIndex);
  const resumesAt = formatInstant(nextPeriodStart, context.terms.timeZone);
  const cap = spendCap === null ? 'the spend cap' : `the spend cap of ${formatAmount(spendCap, context.currency)}`;

  const blocks: Block[] = [
    {
      type: 'paragraph',
      text: `Usage of ${context.customerName} in ${period} reached ${cap} of the ${tierName} tier, so usage is throttled until the next period starts at ${resumesAt}.`,
    },
    {
      type: 'paragraph',
      text: 'Usage events are still accepted and counted, but they are deferred: they are consumed first at the start of the next period, in their original order and under the same cap. The charges of this period do not exceed the cap.',
    },
    contractLinks(context),
  ];
  return { subject: `${context.customerName}: usage throttled at the spend cap until ${resumesAt}`, blocks };
}

function tierUpgradedContent(alert: RenderableAlert, context: AlertMessageContext): MessageContent {
  const from = stringField(alert, 'from');
  const to = stringField(alert, 'to');
  const period = periodLabel(context.terms, alert.periodIndex);
  const fromTier = findTier(context.terms, from);
  const toTier = findTier(context.terms, to);

  const rows: [string, string][] = [];
  rows.push(['Previous tier', fromTier ? describeTier(fromTier, context.terms) : from]);
  rows.push(['New tier', toTier ? describeTier(toTier, context.terms) : to]);
  const blocks: Block[] = [
    {
      type: 'paragraph',
      text: `The contract of ${context.customerName} moved from the ${from} tier to the ${to} tier, effective for the whole of ${period}: the period's commit grows to the new tier's commit and the period is billed at the new tier's prices.`,
    },
    { type: 'facts', rows },
  ];
  if (context.terms.capPolicy === 'upgrade') {
    blocks.push({
      type: 'paragraph',
      text: 'Under the contract\'s upgrade policy, a usage event that would take a period\'s charges over the spend cap moves the contract to the lowest higher tier under which it fits.',
    });
  }
  blocks.push(contractLinks(context));
  return { subject: `${context.customerName}: tier upgraded from ${from} to ${to}`, blocks };
}

function creditsExpiringContent(alert: RenderableAlert, context: AlertMessageContext): MessageContent {
  const grantId = stringField(alert, 'grantId');
  const grantKind = stringField(alert, 'grantKind');
  const credits = stringField(alert, 'credits');
  const expiresAt = stringField(alert, 'expiresAt');
  const expiry = formatInstant(expiresAt, context.terms.timeZone);

  const blocks: Block[] = [
    {
      type: 'paragraph',
      text: `${formatCredits(credits)} credits of ${context.customerName}'s ${grantKind} grant ${grantId} are still unused and expire at ${expiry}.`,
    },
    {
      type: 'paragraph',
      text: 'Usage before then burns the credits that expire first. Credits left in the grant at its expiry lapse and no longer cover usage.',
    },
    { type: 'facts', rows: [['Grant', `${grantId} (${grantKind})`], ['Unused credits', formatCredits(credits)], ['Expires at', expiry]] },
    contractLinks(context),
  ];
  return { subject: `${context.customerName}: ${formatCredits(credits)} credits expire at ${expiry}`, blocks };
}

function unbilledDeferredContent(alert: RenderableAlert, context: AlertMessageContext): MessageContent {
  const deferredCredits = stringField(alert, 'deferredCredits');
  const period = periodLabel(context.terms, alert.periodIndex);
  const blocks: Block[] = [
    {
      type: 'paragraph',
      text: `The contract of ${context.customerName} ended with ${formatCredits(deferredCredits)} credits of usage still deferred under the spend cap after its final period, ${period}.`,
    },
    {
      type: 'paragraph',
      text: 'This usage was never consumed, so it is not billed. The final statement reports it as unbilled deferred usage.',
    },
    contractLinks(context),
  ];
  return { subject: `${context.customerName}: ${formatCredits(deferredCredits)} credits of deferred usage left unbilled at contract end`, blocks };
}

// ---------------------------------------------------------------------------------------
// Reading alert data.

interface TriggerPeriod {
  periodIndex: number;
  /** Credits of all events attributed to the period, admitted or deferred. */
  demandCredits: string;
}

interface TriggerData {
  basis: 'commit' | 'spendCap';
  thresholdPercent: string;
  /** Tier in force at the close that fired the trigger. */
  tier: string;
  /** Local date `YYYY-MM-DD`. */
  respondBy: string;
  /** The periods of the streak, oldest first. */
  periods: TriggerPeriod[];
}

/** Reads the data the domain's trigger rule stores: `periods` and `demandCredits` are parallel lists. */
function readTriggerData(alert: RenderableAlert): TriggerData {
  const basis = stringField(alert, 'basis');
  if (basis !== 'commit' && basis !== 'spendCap') throw new AlertDataError(alert, 'basis', '"commit" or "spendCap"');
  const periodIndexes = stringListField(alert, 'periods');
  const demand = stringListField(alert, 'demandCredits');
  if (periodIndexes.length === 0 || periodIndexes.length !== demand.length) {
    throw new AlertDataError(alert, 'demandCredits', 'one value per period listed in "periods"');
  }
  return {
    basis,
    thresholdPercent: stringField(alert, 'thresholdPercent'),
    tier: stringField(alert, 'tier'),
    respondBy: stringField(alert, 'respondBy'),
    periods: periodIndexes.map((index, position) => ({ periodIndex: Number(index), demandCredits: demand[position] as string })),
  };
}

function stringField(alert: RenderableAlert, field: string): string {
  const value = alert.data[field];
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string' || value === '') throw new AlertDataError(alert, field, 'a non-empty string');
  return value;
}

function optionalStringField(alert: RenderableAlert, field: string): string | null {
  const value = alert.data[field];
  if (value === null || value === undefined) return null;
  return stringField(alert, field);
}

function stringListField(alert: RenderableAlert, field: string): string[] {
  const value = alert.data[field];
  if (!Array.isArray(value)) throw new AlertDataError(alert, field, 'a list of strings');
  return value.map(String);
}

// ---------------------------------------------------------------------------------------
// Formatting.

function findTier(terms: Terms, name: string): Tier | undefined {
  return terms.tiers.find((tier) => tier.name === name);
}

function describeTier(tier: Tier, terms: Terms): string {
  const parts = [
    `commit ${formatCredits(tier.commitCredits)} credits`,
    `${formatUnitPrice(tier.pricePerCredit, terms.currency)} per credit`,
    `platform fee ${formatAmount(tier.platformFee, terms.currency)}`,
    tier.spendCap === undefined ? 'no spend cap' : `spend cap ${formatAmount(tier.spendCap, terms.currency)}`,
  ];
  return `${tier.name} (${parts.join(', ')})`;
}

function capPolicyText(terms: Terms): string {
  if (terms.capPolicy === 'upgrade') {
    return 'When a usage event would take the charges over the cap, the contract moves to the lowest higher tier under which it fits; with no such tier, the event is deferred to the next period.';
  }
  return 'When a usage event would take the charges over the cap, it is deferred to the next period, and the rest of the period\'s usage is deferred too.';
}

function contractLinks(context: AlertMessageContext): Block {
  const base = `${context.publicUrl.replace(/\/+$/, '')}/v1/contracts/${encodeURIComponent(context.contractId)}`;
  return {
    type: 'links',
    title: 'The contract in the API (with an API key):',
    items: [
      ['Contract', `GET ${base}`],
      ['Periods', `GET ${base}/periods`],
    ],
  };
}

/**
 * Returns a readable name of a period with its index in brackets: "March 2026 (period 2)"
 * when it starts on the first of a month, otherwise its first and last local dates.
 * An index outside the term gives "period 99".
 */
export function periodLabel(terms: Pick<Terms, 'startDate' | 'timeZone' | 'termMonths'>, periodIndex: number | null): string {
  if (periodIndex === null) return 'the contract';
  let bounds;
  try {
    bounds = periodBounds(terms, periodIndex);
  } catch {
    return `period ${periodIndex}`;
  }
  const start = DateTime.fromJSDate(bounds.start, { zone: terms.timeZone });
  const lastDay = DateTime.fromJSDate(bounds.end, { zone: terms.timeZone }).minus({ days: 1 });
  const name =
    start.day === 1 && lastDay.month === start.month
      ? start.setLocale('en').toFormat('LLLL yyyy')
      : `${start.toISODate() ?? ''} to ${lastDay.toISODate() ?? ''}`;
  return `${name} (period ${periodIndex})`;
}

/** Formats credits with thousands separators and every significant digit ("80,000", "1,234.5"). */
export function formatCredits(value: string): string {
  return groupThousands(new Exact(value).toFixed());
}

/** Formats money with the currency's minor digits, thousands separators and code ("25,000.00 USD"). */
export function formatAmount(value: string, currency: string): string {
  return `${groupThousands(formatMoney(value, currency))} ${currency}`;
}

/**
 * Formats a price per credit with at least the currency's minor digits but never
 * rounded, because prices per credit may have more digits than the currency ("0.0015 USD").
 */
export function formatUnitPrice(value: string, currency: string): string {
  const exact = new Exact(value);
  const digits = Math.max(minorUnits(currency), exact.decimalPlaces());
  return `${groupThousands(exact.toFixed(digits))} ${currency}`;
}

function groupThousands(plain: string): string {
  const negative = plain.startsWith('-');
  const unsigned = negative ? plain.slice(1) : plain;
  const [integer = '0', fraction] = unsigned.split('.');
  const grouped = integer.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

/** Formats an ISO 8601 instant as local date and time in the contract's zone ("2026-05-01 00:00 UTC"). */
function formatInstant(iso: string, zone: string): string {
  const local = DateTime.fromISO(iso, { zone });
  if (!local.isValid) return iso;
  return `${local.toFormat('yyyy-MM-dd HH:mm')} ${zone}`;
}

function plural(count: number, noun: string): string {
  return count === 1 ? noun : `${noun}s`;
}

function singleLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------
// Rendering blocks.

function renderText(blocks: readonly Block[]): string {
  const parts = blocks.map((block) => {
    switch (block.type) {
      case 'paragraph':
        return block.text;
      case 'facts': {
        const width = Math.max(...block.rows.map(([label]) => label.length)) + 1;
        return block.rows.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`).join('\n');
      }
      case 'list':
        return [block.title, ...block.items.map((item) => `  - ${item}`)].join('\n');
      case 'links': {
        const width = Math.max(...block.items.map(([label]) => label.length)) + 1;
        return [block.title, ...block.items.map(([label, url]) => `  ${`${label}:`.padEnd(width)} ${url}`)].join('\n');
      }
    }
  });
  return `${parts.join('\n\n')}\n`;
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function renderHtml(subject: string, blocks: readonly Block[]): string {
  const body = blocks.map((block) => {
    switch (block.type) {
      case 'paragraph':
        return `<p>${escapeHtml(block.text)}</p>`;
      case 'facts':
        return [
          '<table cellpadding="4" cellspacing="0">',
          ...block.rows.map(([label, value]) => `<tr><th align="left" valign="top">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`),
          '</table>',
        ].join('\n');
      case 'list':
        return [`<p>${escapeHtml(block.title)}</p>`, '<ul>', ...block.items.map((item) => `<li>${escapeHtml(item)}</li>`), '</ul>'].join('\n');
      case 'links':
        return [
          `<p>${escapeHtml(block.title)}</p>`,
          '<ul>',
          ...block.items.map(([label, request]) => `<li>${escapeHtml(label)}: <code>${escapeHtml(request)}</code></li>`),
          '</ul>',
        ].join('\n');
    }
  });
  return [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(singleLine(subject))}</title>`,
    '</head><body style="font-family: sans-serif; line-height: 1.4;">',
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}
