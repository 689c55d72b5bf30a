// Benchmark of the offline simulator: contract-months per second of `runSimulation`, and
// how its time grows with the events of a contract-year. Usage is generated from the
// token counts of the replayed Azure traces, scaled so that every size has the same
// monthly demand, so only the number of events changes between sizes.
import fs from 'node:fs';
import path from 'node:path';
import { parseTerms, runSimulation, type Terms, type UsageRow } from '../src/domain';
import { parseUsageCsv } from '../src/cli/usage-csv';
import { fmt, loadTraces, parseBenchArgs, printContext, printTable, REPO_ROOT, type TraceRequest } from './support';

const YEAR_START = Date.UTC(2026, 0, 1);
const YEAR_MS = 365 * 86_400_000;
const CREDITS_PER_TOKEN = { llm_input_token: 0.001, llm_output_token: 0.004 } as const;

interface Scenario {
  name: string;
  /** Demand of each month in credits; the reference deal's commit is 50,000 and its cap 25,000.00 USD. */
  monthlyCredits: number;
}

// The reference deal's projection (60,000 credits a month) bills some overage under the
// cap; 150,000 a month reaches the cap every month, so admission throttles and defers.
const SCENARIOS: Scenario[] = [
  { name: 'projection', monthlyCredits: 60_000 },
  { name: 'over cap', monthlyCredits: 150_000 },
];

/**
 * Builds the usage CSV of one contract-year: `events` events spread evenly over 2026.
 * The requests of the traces come in turn, each as an input and an output token event.
 * Token counts are scaled so that the year's demand is 12 months of `monthlyCredits`.
 */
function generateUsageCsv(traces: readonly TraceRequest[], events: number, monthlyCredits: number): string {
  const requests = Math.ceil(events / 2);
  let traceCredits = 0;
  for (let i = 0; i < requests; i++) {
    const request = traces[i % traces.length]!;
    traceCredits += request.inputTokens * CREDITS_PER_TOKEN.llm_input_token + request.outputTokens * CREDITS_PER_TOKEN.llm_output_token;
  }
  const scale = (12 * monthlyCredits) / traceCredits;

  const lines = ['occurred_at,meter,quantity,event_id'];
  for (let i = 0; i < events; i++) {
    const request = traces[Math.floor(i / 2) % traces.length]!;
    const input = i % 2 === 0;
    const tokens = Math.max(1, Math.round((input ? request.inputTokens : request.outputTokens) * scale));
    const time = new Date(YEAR_START + Math.floor((YEAR_MS * i) / events)).toISOString();
    lines.push(`${time},${input ? 'llm_input_token' : 'llm_output_token'},${tokens},e${i}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Sums each month's credits in one pass over the parsed rows, in binary floating point:
 * the baseline, because any simulation reads every row at least this way.
 */
function sumCreditsPlainly(rows: readonly { occurredAt: string; meter: string; quantity: string }[]): number {
  const months = new Float64Array(12);
  for (const row of rows) {
    const month = new Date(row.occurredAt).getUTCMonth();
    months[month] = months[month]! + Number(row.quantity) * CREDITS_PER_TOKEN[row.meter as keyof typeof CREDITS_PER_TOKEN];
  }
  return months.reduce((a, b) => a + b, 0);
}

/**
 * Sums the usage of each meter per hour into one row, in a plain linear pass. The credits
 * of each hour stay the same. Admission gets bigger events, though, so results under a
 * cap can differ from the per-event run.
 */
function aggregatePerHour(rows: readonly UsageRow[]): UsageRow[] {
  const sums = new Map<string, number>();
  for (const row of rows) {
    const key = `${row.occurredAt.slice(0, 13)}:00:00Z ${row.meter}`;
    sums.set(key, (sums.get(key) ?? 0) + Number(row.quantity));
  }
  return [...sums].map(([key, tokens]) => {
    const [occurredAt, meter] = key.split(' ') as [string, string];
    return { occurredAt, meter, quantity: String(tokens) };
  });
}

/** Runs `work` `repeats` times after one warm-up run and returns the median time in milliseconds. */
function medianMs<T>(repeats: number, work: () => T): { ms: number; result: T } {
  let result = work();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    result = work();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, result };
}

/** Least-squares fit of `ms = fixed + perEvent * events`. */
function fitLinear(points: readonly { events: number; ms: number }[]): { fixedMs: number; perEventUs: number } {
  const n = points.length;
  const meanX = points.reduce((s, p) => s + p.events, 0) / n;
  const meanY = points.reduce((s, p) => s + p.ms, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.events - meanX) * (p.ms - meanY);
    variance += (p.events - meanX) ** 2;
  }
  const slope = variance === 0 ? 0 : covariance / variance;
  return { fixedMs: meanY - slope * meanX, perEventUs: slope * 1000 };
}

function main(): void {
  const args = parseBenchArgs();
  printContext('Simulation: runSimulation over a contract-year of generated usage', args);
  const sizes = args.quick ? [10_000, 30_000, 100_000] : [10_000, 100_000, 1_000_000];
  const repeats = args.quick ? 1 : 3;
  const terms: Terms = parseTerms(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'reference-deal.json'), 'utf8')));
  const traces = loadTraces();

  for (const scenario of SCENARIOS) {
    const rows: Record<string, string | number>[] = [];
    const points: { events: number; ms: number }[] = [];
    for (const events of sizes) {
      const csv = generateUsageCsv(traces, events, scenario.monthlyCredits);
      const parse = medianMs(repeats, () => parseUsageCsv(csv, 'generated usage'));
      const usage = parse.result;
      const baseline = medianMs(repeats, () => sumCreditsPlainly(usage));
      const simulation = medianMs(repeats, () => runSimulation(terms, usage));
      const run = simulation.result.result;
      const aggregation = medianMs(repeats, () => aggregatePerHour(usage));
      const aggregated = medianMs(repeats, () => runSimulation(terms, aggregation.result));
      if (run.events.accepted !== events) {
        throw new Error(`The simulation accepted ${run.events.accepted} of ${events} generated events; the generator is wrong.`);
      }
      points.push({ events, ms: simulation.ms });
      rows.push({
        'events / year': fmt(events),
        'parse CSV ms': fmt(parse.ms),
        'simulate ms': fmt(simulation.ms),
        'simulate events/s': fmt(events / (simulation.ms / 1000)),
        'contract-months/s': fmt(12 / (simulation.ms / 1000), 1),
        'baseline sum ms': fmt(baseline.ms, 1),
        'simulate / baseline': fmt(simulation.ms / baseline.ms, 1),
        'sum per hour ms': fmt(aggregation.ms),
        'simulate hourly rows ms': fmt(aggregated.ms),
        'deferred at end': run.totals.unbilledDeferredCredits,
        'overage credits': run.totals.overageCredits,
      });
    }
    console.log(`## ${scenario.name}: ${fmt(scenario.monthlyCredits)} credits a month (reference deal)\n`);
    printTable(rows);

    const fit = fitLinear(points);
    const first = points[0]!;
    const last = points[points.length - 1]!;
    const exponent = Math.log(last.ms / first.ms) / Math.log(last.events / first.events);
    console.log(
      `Fit: simulate ms = ${fmt(fit.fixedMs, 1)} + ${fmt(fit.perEventUs, 3)} µs x events; ` +
        `time grows as events^${fmt(exponent, 2)} from ${fmt(first.events)} to ${fmt(last.events)} events.\n`,
    );
  }
}

main();
