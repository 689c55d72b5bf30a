// Text output of a replay: the progress line of each month and the closing tables of
// statements, invoices and alert emails.
import path from 'node:path';
import { outboxFileName } from '../activities/mailer';
import type { StoredAlert } from '../db/alerts';
import type { PeriodStatement } from '../domain';
import { formatElapsed } from '../runtime/log';
import type { CustomerRun, MonthTally } from './run';

const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const MONEY = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** Formats a decimal string of credits rounded to whole credits, such as `38,087`. */
export function formatCredits(credits: string): string {
  return COUNT.format(Number(credits));
}

/** Formats a decimal string of money with two decimals, such as `15,000.00`. */
export function formatMoney(amount: string): string {
  return MONEY.format(Number(amount));
}

/** Returns the period's month as YYYY-MM, the label of a period that starts on the 1st. */
function monthLabel(startIso: string): string {
  return startIso.slice(0, 7);
}

/** Lays out rows as columns separated by two spaces; numbers align right, text left. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Lists what marks the period: carried-in usage, an upgrade, a throttle, the trigger, the final close. */
function periodNotes(statement: PeriodStatement): string {
  const kinds = new Set(statement.alerts.map((alert) => alert.kind));
  const notes: string[] = [];
  if (statement.carriedInCredits !== '0') notes.push(`${formatCredits(statement.carriedInCredits)} carried in`);
  if (kinds.has('tier_upgraded')) notes.push(`upgraded to ${statement.tier}`);
  if (kinds.has('throttled')) notes.push('throttled');
  if (statement.trigger.fired) notes.push(`trigger fired, respond by ${statement.trigger.respondBy}`);
  else if (statement.trigger.streak > 0) notes.push(`trigger streak ${statement.trigger.streak}`);
  if (statement.final) notes.push('final close');
  return notes.join('; ');
}

/** Formats a customer's progress line for a closed month: events sent, their statuses, the close, and the wall time so far. */
export function monthLine(run: CustomerRun, tally: MonthTally, statement: PeriodStatement, elapsedMs: number): string {
  const answers = [`${COUNT.format(tally.accepted)} accepted`, `${COUNT.format(tally.deferred)} deferred`];
  if (tally.duplicate > 0) answers.push(`${COUNT.format(tally.duplicate)} duplicate`);
  if (tally.rejected > 0) answers.push(`${COUNT.format(tally.rejected)} rejected`);
  const notes = periodNotes(statement);
  return (
    `  ${monthLabel(statement.start)}  ${run.customer.key.padEnd(4)}  ${COUNT.format(tally.sent).padStart(6)} events: ${answers.join(', ')}; ` +
    `demand ${formatCredits(statement.demandCredits)} credits, charges ${formatMoney(statement.charges.total)}` +
    `${notes ? ` (${notes})` : ''}  [${formatElapsed(elapsedMs)}]`
  );
}

/** Formats the statement table of one contract, a row per closed period. */
export function statementTable(statements: readonly PeriodStatement[]): string {
  const header = ['period', 'tier', 'demand', 'consumed', 'deferred', 'overage', 'rolled over', 'forfeited', 'expired', 'charges', 'notes'];
  const rows = statements.map((s) => [
    monthLabel(s.start),
    s.tier,
    formatCredits(s.demandCredits),
    formatCredits(s.consumedCredits),
    formatCredits(s.deferredCredits),
    formatCredits(s.overageCredits),
    formatCredits(s.rolledOverCredits),
    formatCredits(s.forfeitedCredits),
    formatCredits(s.expiredCredits),
    formatMoney(s.charges.total),
    periodNotes(s),
  ]);
  return table(header, rows, new Set([2, 3, 4, 5, 6, 7, 8, 9]));
}

/** Formats the invoice table of one contract: number, the period it bills, kind and total. */
export function invoiceTable(run: CustomerRun): string {
  const rows = run.invoices.map((invoice) => [
    invoice.number,
    invoice.periodIndex === null ? '-' : monthLabel(run.statements[invoice.periodIndex]?.start ?? ''),
    invoice.kind,
    `${formatMoney(invoice.total)} ${invoice.currency}`,
  ]);
  return table(['number', 'period', 'kind', 'total'], rows, new Set([0, 3]));
}

/** Returns the location of an alert's email: its `.eml` file in the outbox, or the SMTP server. */
export function emailLocation(alert: StoredAlert, mailDestination: string): string {
  if (mailDestination.startsWith('smtp')) return `${mailDestination} (Message-ID ${alert.messageId})`;
  return path.join(path.relative(process.cwd(), mailDestination) || '.', outboxFileName(alert.messageId));
}

/** Formats the alert table of one contract: period, kind, recipients, delivery state and email location. */
export function alertTable(run: CustomerRun, mailDestination: string): string {
  const rows = run.alerts.map((alert) => [
    alert.periodIndex === null ? '-' : monthLabel(run.statements[alert.periodIndex]?.start ?? ''),
    alert.kind,
    alert.recipients.join(', '),
    alert.status,
    emailLocation(alert, mailDestination),
  ]);
  return table(['period', 'kind', 'to', 'state', 'email'], rows, new Set());
}
