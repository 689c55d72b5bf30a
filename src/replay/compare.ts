// Compares what a live contract recorded with the simulator's run of the same terms and
// usage: every statement field, the alert keys and the invoices.
import type { IssuedInvoice } from './records';
import { runSimulation, type PeriodStatement, type SimulationResult, type Terms, type UsageRow } from '../domain';

/** Statement fields compared one by one; `charges` and `trigger` are compared member by member. */
const STATEMENT_FIELDS = [
  'index',
  'start',
  'end',
  'tier',
  'demandCredits',
  'carriedInCredits',
  'consumedCredits',
  'deferredCredits',
  'overageCredits',
  'rolledOverCredits',
  'forfeitedCredits',
  'expiredCredits',
  'lateCredits',
  'final',
] as const;

function describe(value: unknown): string {
  return JSON.stringify(value) ?? 'undefined';
}

/** Lists each difference between two objects' members as `label.member: live X, simulator Y`. */
function compareMembers(label: string, live: Record<string, unknown> | undefined, simulated: Record<string, unknown> | undefined): string[] {
  const keys = new Set([...Object.keys(live ?? {}), ...Object.keys(simulated ?? {})]);
  const differences: string[] = [];
  for (const key of keys) {
    const a = live?.[key];
    const b = simulated?.[key];
    if (describe(a) !== describe(b)) differences.push(`${label}.${key}: live ${describe(a)}, simulator ${describe(b)}`);
  }
  return differences;
}

/** Lists every difference between the live statements and the simulated ones. */
export function compareStatements(live: readonly PeriodStatement[], simulated: readonly PeriodStatement[]): string[] {
  const differences: string[] = [];
  if (live.length !== simulated.length) {
    differences.push(`closed periods: live ${live.length}, simulator ${simulated.length}`);
  }
  for (let index = 0; index < Math.max(live.length, simulated.length); index++) {
    const a = live[index];
    const b = simulated[index];
    const label = `period ${index}`;
    if (a === undefined || b === undefined) {
      differences.push(`${label}: ${a === undefined ? 'missing from the live contract' : 'missing from the simulation'}`);
      continue;
    }
    for (const field of STATEMENT_FIELDS) {
      if (describe(a[field]) !== describe(b[field])) differences.push(`${label} ${field}: live ${describe(a[field])}, simulator ${describe(b[field])}`);
    }
    differences.push(...compareMembers(`${label} charges`, { ...a.charges }, { ...b.charges }));
    differences.push(...compareMembers(`${label} trigger`, { ...a.trigger }, { ...b.trigger }));
    const liveAlerts = a.alerts.map((alert) => alert.key).sort();
    const simulatedAlerts = b.alerts.map((alert) => alert.key).sort();
    if (describe(liveAlerts) !== describe(simulatedAlerts)) {
      differences.push(`${label} alerts: live ${describe(liveAlerts)}, simulator ${describe(simulatedAlerts)}`);
    }
  }
  return differences;
}

/**
 * Lists every difference between the live invoices and the simulated ones, taken in issue
 * order: kind, period, total and lines. Numbers and issue times are not compared, because
 * the simulator numbers its own invoices and issues them at the instant the close is due.
 */
export function compareInvoices(live: readonly IssuedInvoice[], simulated: SimulationResult['invoices']): string[] {
  const differences: string[] = [];
  if (live.length !== simulated.length) differences.push(`invoices: live ${live.length}, simulator ${simulated.length}`);
  for (let position = 0; position < Math.min(live.length, simulated.length); position++) {
    const a = live[position]!;
    const b = simulated[position]!;
    const label = `invoice ${a.number} (simulator ${b.number})`;
    if (a.kind !== b.kind) differences.push(`${label} kind: live ${a.kind}, simulator ${b.kind}`);
    if (a.periodIndex !== b.periodIndex) differences.push(`${label} period: live ${a.periodIndex}, simulator ${b.periodIndex}`);
    if (a.total !== b.total) differences.push(`${label} total: live ${a.total}, simulator ${b.total}`);
    const liveLines = a.lines.map(({ kind, description, quantity, unitPrice, amount }) => ({ kind, description, quantity, unitPrice, amount }));
    const simulatedLines = b.lines.map(({ kind, description, quantity, unitPrice, amount }) => ({ kind, description, quantity, unitPrice, amount }));
    if (describe(liveLines) !== describe(simulatedLines)) {
      differences.push(`${label} lines: live ${describe(liveLines)}, simulator ${describe(simulatedLines)}`);
    }
  }
  return differences;
}

/** The simulator's run of a live contract's terms and usage, and every difference found. */
export interface SimulatorCheck {
  simulation: SimulationResult;
  differences: string[];
}

/** Simulates `rows` under `terms` with the live contract's id and close delay, and compares. */
export function checkAgainstSimulator(
  live: { contractId: string; terms: Terms; rows: readonly UsageRow[]; statements: readonly PeriodStatement[]; invoices: readonly IssuedInvoice[] },
  closeDelayMs: number,
): SimulatorCheck {
  const simulation = runSimulation(live.terms, live.rows, { closeDelayMs, contractId: live.contractId }).result;
  return {
    simulation,
    differences: [...compareStatements(live.statements, simulation.periods), ...compareInvoices(live.invoices, simulation.invoices)],
  };
}
