import type { PeriodStatement, SimulationResult } from '../domain';

const COLUMNS: { title: string; csv: string; value: (period: PeriodStatement) => string }[] = [
  { title: 'period', csv: 'index', value: (p) => String(p.index) },
  { title: 'start', csv: 'start', value: (p) => p.start },
  { title: 'end', csv: 'end', value: (p) => p.end },
  { title: 'tier', csv: 'tier', value: (p) => p.tier },
  { title: 'demand', csv: 'demand_credits', value: (p) => p.demandCredits },
  { title: 'carried in', csv: 'carried_in_credits', value: (p) => p.carriedInCredits },
  { title: 'consumed', csv: 'consumed_credits', value: (p) => p.consumedCredits },
  { title: 'deferred', csv: 'deferred_credits', value: (p) => p.deferredCredits },
  { title: 'overage', csv: 'overage_credits', value: (p) => p.overageCredits },
  { title: 'rolled over', csv: 'rolled_over_credits', value: (p) => p.rolledOverCredits },
  { title: 'forfeited', csv: 'forfeited_credits', value: (p) => p.forfeitedCredits },
  { title: 'expired', csv: 'expired_credits', value: (p) => p.expiredCredits },
  { title: 'platform fee', csv: 'platform_fee', value: (p) => p.charges.platformFee },
  { title: 'commit fee', csv: 'commit_fee', value: (p) => p.charges.commitFee },
  { title: 'overage charge', csv: 'overage_charge', value: (p) => p.charges.overage },
  { title: 'charges', csv: 'total_charges', value: (p) => p.charges.total },
  { title: 'streak', csv: 'trigger_streak', value: (p) => String(p.trigger.streak) },
  { title: 'trigger', csv: 'trigger_fired', value: (p) => (p.trigger.fired ? 'fired' : '') },
  { title: 'respond by', csv: 'respond_by', value: (p) => p.trigger.respondBy ?? '' },
];

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Formats a simulation as CSV: a header, then one row per period. */
export function formatSimulationCsv(result: SimulationResult): string {
  const lines = [COLUMNS.map((column) => column.csv).join(',')];
  for (const period of result.periods) {
    lines.push(COLUMNS.map((column) => csvField(column.value(period))).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Formats a simulation as a table for a person: one row per period, then the invoices and totals. */
export function formatSimulationTable(result: SimulationResult): string {
  const columns = COLUMNS.filter((column) => column.csv !== 'end');
  const rows = result.periods.map((period) =>
    columns.map((column) => (column.csv === 'start' ? column.value(period).slice(0, 10) : column.value(period))),
  );
  const widths = columns.map((column, index) => Math.max(column.title.length, ...rows.map((row) => (row[index] as string).length)));
  const numeric = (index: number) => index >= 3;
  const render = (cells: string[]) =>
    cells.map((cell, index) => (numeric(index) ? cell.padStart(widths[index] as number) : cell.padEnd(widths[index] as number))).join('  ').trimEnd();

  const out: string[] = [];
  out.push(`Currency: ${result.currency}`);
  out.push(render(columns.map((column) => column.title)));
  out.push(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) out.push(render(row));
  out.push('');
  out.push('Invoices:');
  for (const invoice of result.invoices) {
    const period = invoice.periodIndex === null ? 'outside the term' : `for period ${invoice.periodIndex}`;
    out.push(`  ${invoice.number}  ${invoice.kind.padEnd(7)}  ${period}  issued ${invoice.issuedAt}  total ${invoice.total}`);
  }
  out.push('');
  const totals = result.totals;
  out.push(`Invoiced: ${totals.invoiced} ${result.currency}`);
  out.push(
    `Credits: consumed ${totals.consumedCredits}, overage ${totals.overageCredits}, forfeited ${totals.forfeitedCredits}, expired ${totals.expiredCredits}, unbilled deferred ${totals.unbilledDeferredCredits}`,
  );
  out.push(`Events: ${result.events.accepted} accepted, ${result.events.duplicates} duplicates counted once`);
  return `${out.join('\n')}\n`;
}
