// Helpers shared by the benchmarks: arguments, tables, percentiles, CPU counters, the
// embedded PostgreSQL and the replayed request traces.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/runtime/postgres';
import { quietLog } from '../src/runtime/log';

export const REPO_ROOT = path.resolve(__dirname, '..');

export interface BenchArgs {
  /** Small sizes for a smoke test: seconds instead of minutes. */
  quick: boolean;
}

export function parseBenchArgs(argv: readonly string[] = process.argv.slice(2)): BenchArgs {
  for (const arg of argv) {
    if (arg !== '--quick') throw new Error(`Unknown argument "${arg}"; the benchmarks accept only --quick.`);
  }
  return { quick: argv.includes('--quick') };
}

/** Prints what the figures depend on: date, machine, load, Node version and the commit measured. */
export function printContext(name: string, args: BenchArgs): void {
  const [load1, load5] = os.loadavg();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' });
    if (dirty.trim() !== '') commit += ' + uncommitted changes in src/';
  } catch {
    // Outside a git checkout the commit stays unknown.
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\n# ${name}${args.quick ? ' (--quick)' : ''}`);
  console.log(`${new Date().toISOString()}  ${os.cpus().length} cores (${cpu})  load ${load1!.toFixed(2)} / ${load5!.toFixed(2)} (1 / 5 min)`);
  console.log(`node ${process.version}  commit ${commit}\n`);
}

export type Cell = string | number;

/** Prints rows as an aligned Markdown table, so the output can be pasted into the README. */
export function printTable(rows: readonly Record<string, Cell>[]): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const text = (row: Record<string, Cell>, column: string) => String(row[column] ?? '');
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => text(r, c).length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(columns.map((c) => text(row, c))));
  console.log('');
}

/** Returns the p-th percentile (0 to 100) of the values by the nearest-rank method. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Formats a number with thousands separators and the given decimals. */
export function fmt(value: number, decimals = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

const CLOCK_TICKS_PER_SECOND = readClockTicks();

function readClockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** CPU time (user + system) in milliseconds of one process, from /proc; 0 when it has exited. */
export function processCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Process ids whose parent is `parentPid`, from /proc. */
export function childPids(parentPid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parentPid) children.push(Number(entry));
    } catch {
      // The process exited while the folder was read.
    }
  }
  return children;
}

/**
 * Snapshot of the CPU time of a PostgreSQL server: the postmaster and every process it
 * forked (backends, WAL writer, checkpointer). Subtract two snapshots with `cpuSince`.
 */
export function postgresCpu(postmasterPid: number): Map<number, number> {
  const snapshot = new Map<number, number>();
  for (const pid of [postmasterPid, ...childPids(postmasterPid)]) snapshot.set(pid, processCpuMs(pid));
  return snapshot;
}

/**
 * CPU milliseconds spent since `before` by the processes of `after`. A process that exited
 * in between is not counted, so keep connections open while measuring.
 */
export function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** CPU milliseconds (user + system) of this Node process since `before`. */
export function nodeCpuSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

export interface BenchPostgres extends EmbeddedPostgres {
  /** Stops PostgreSQL and deletes its data folder; close every pool first. */
  remove(): Promise<void>;
}

/**
 * Starts an embedded PostgreSQL in a new temporary folder, on a free port of 127.0.0.1.
 * It is durable (fsync on), as `trueup start` runs it, so commits cost what they cost in use.
 */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-bench-pg-'));
  let server: EmbeddedPostgres;
  try {
    server = await startEmbeddedPostgres({ dataDir, log: quietLog, database: 'trueup_bench' });
  } catch (error) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...server,
    async remove() {
      // pg-pool's end() resolves before its clients' connections have closed; a fast
      // shutdown right away makes those clients emit an unhandled 'error' event.
      await sleep(250);
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One request of a replayed trace: when it arrived, relative to the trace's first request, and its tokens. */
export interface TraceRequest {
  trace: string;
  row: number;
  offsetMs: number;
  inputTokens: number;
  outputTokens: number;
}

/** Folder of the replayed traces; `TRUEUP_TRACE_DIR` points elsewhere, for another copy of them. */
export const TRACE_DIR = process.env.TRUEUP_TRACE_DIR || path.join(REPO_ROOT, 'examples', 'data', 'azure-llm-trace-2023');

/**
 * Reads the Azure LLM inference traces (code and conversation services) from `TRACE_DIR`,
 * merged in time order. Each row has a timestamp
 * in UTC, the prompt's tokens (ContextTokens) and the completion's (GeneratedTokens).
 */
export function loadTraces(): TraceRequest[] {
  const requests: TraceRequest[] = [];
  for (const trace of ['code', 'conv']) {
    const file = path.join(TRACE_DIR, `${trace}.csv`);
    if (!fs.existsSync(file)) {
      throw new Error(`Trace file ${file} is missing; the benchmarks replay it. Restore examples/data from the repository or set TRUEUP_TRACE_DIR.`);
    }
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    if (lines[0]?.trim() !== 'TIMESTAMP,ContextTokens,GeneratedTokens') {
      throw new Error(`Unexpected header in ${file}: expected "TIMESTAMP,ContextTokens,GeneratedTokens", got "${lines[0]}".`);
    }
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      const [timestamp, input, output] = line.split(',');
      // "2023-11-16 18:17:03.9799600": seven fractional digits; milliseconds are enough here.
      const time = Date.parse(`${timestamp!.slice(0, 10)}T${timestamp!.slice(11, 23)}Z`);
      requests.push({ trace, row: i, offsetMs: time, inputTokens: Number(input), outputTokens: Number(output) });
    }
  }
  requests.sort((a, b) => a.offsetMs - b.offsetMs);
  const first = requests[0]!.offsetMs;
  for (const request of requests) request.offsetMs -= first;
  return requests;
}

/** Waits for `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
