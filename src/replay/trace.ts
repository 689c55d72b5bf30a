// Reads the Azure LLM inference traces and turns one billing month of a trace into usage
// events: each request becomes an `llm_input_token` and an `llm_output_token` event.
import fs from 'node:fs';
import type { UsageRow } from '../domain';

/** One request of a trace. */
export interface TraceRequest {
  /** Seconds since the trace's first request. */
  atSeconds: number;
  inputTokens: number;
  outputTokens: number;
}

/** The stretch of a trace mapped onto one billing month: its first hour. */
export const TRACE_WINDOW_SECONDS = 3600;

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;

/** Returns a `YYYY-MM-DD hh:mm:ss.fffffff` timestamp as seconds since the epoch, read as UTC. */
function parseTimestamp(text: string, where: string): number {
  const match = TIMESTAMP.exec(text);
  if (!match) throw new Error(`${where}: TIMESTAMP "${text}" is not of the form 2023-11-16 18:17:03.9799600.`);
  const [, year, month, day, hour, minute, second, fraction] = match as unknown as string[];
  const wholeSeconds = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second)) / 1000;
  return wholeSeconds + (fraction ? Number(`0.${fraction}`) : 0);
}

function parseTokens(text: string | undefined, column: string, where: string): number {
  const value = Number(text);
  if (text === undefined || text === '' || !Number.isInteger(value) || value < 0) {
    throw new Error(`${where}: ${column} "${text ?? ''}" is not a whole number of tokens.`);
  }
  return value;
}

/**
 * Reads a trace file with the header `TIMESTAMP,ContextTokens,GeneratedTokens`. Requests
 * come back in time order, timed from the first one; the trace must fit in
 * `TRACE_WINDOW_SECONDS`.
 */
export function readTrace(file: string): TraceRequest[] {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines[0]?.trim() !== 'TIMESTAMP,ContextTokens,GeneratedTokens') {
    throw new Error(`${file}: invalid header "${lines[0] ?? ''}"; expected TIMESTAMP,ContextTokens,GeneratedTokens.`);
  }
  const rows = lines.slice(1).map((line, index) => {
    const where = `${file} line ${index + 2}`;
    const [timestamp, context, generated] = line.split(',');
    return {
      at: parseTimestamp((timestamp ?? '').trim(), where),
      inputTokens: parseTokens(context?.trim(), 'ContextTokens', where),
      outputTokens: parseTokens(generated?.trim(), 'GeneratedTokens', where),
    };
  });
  if (rows.length === 0) throw new Error(`${file}: the trace has no requests.`);
  rows.sort((a, b) => a.at - b.at);

  const first = rows[0]!.at;
  const span = rows[rows.length - 1]!.at - first;
  if (span >= TRACE_WINDOW_SECONDS) {
    throw new Error(`${file}: the trace spans ${Math.round(span)} s; the replay maps at most ${TRACE_WINDOW_SECONDS} s onto a month.`);
  }
  return rows.map((row) => ({ atSeconds: row.at - first, inputTokens: row.inputTokens, outputTokens: row.outputTokens }));
}

/** Orders rows by time, then event id. Every time is a UTC ISO string of one length, so text order is time order. */
function byArrival(a: UsageRow, b: UsageRow): number {
  if (a.occurredAt !== b.occurredAt) return a.occurredAt < b.occurredAt ? -1 : 1;
  const idA = a.eventId ?? '';
  const idB = b.eventId ?? '';
  if (idA === idB) return 0;
  return idA < idB ? -1 : 1;
}

/** Mapping of a trace onto one billing month. */
export interface MonthMapping {
  /** Prefix of every event id, unique per contract and month, such as `code-m03`. */
  eventIdPrefix: string;
  /** The billing period the trace is stretched over, `[start, end)`. */
  start: Date;
  end: Date;
  /** Multiplier of every request's token counts, for growth and spikes. */
  volumeFactor: number;
  /**
   * Sends every `sample`-th request only, with its tokens multiplied by `sample` as well,
   * so a month keeps about the same volume with fewer events. 1 sends every request.
   */
  sample: number;
}

/**
 * Maps a trace onto a billing month. The trace's hour is stretched over the period, so one
 * trace second lasts the period's length / 3600 (12 minutes in a 30-day month). Each kept
 * request becomes an input and an output event, with its tokens multiplied by
 * `volumeFactor x sample` and rounded to whole tokens. Rows come in arrival order, by time
 * and then event id, which is the order in which the simulator takes them too.
 */
export function monthOfTrace(trace: readonly TraceRequest[], mapping: MonthMapping): Required<UsageRow>[] {
  const { start, end, sample } = mapping;
  if (!Number.isInteger(sample) || sample < 1) throw new RangeError(`sample must be a positive integer, got ${sample}.`);
  const periodMs = end.getTime() - start.getTime();
  const msPerTraceSecond = periodMs / TRACE_WINDOW_SECONDS;
  const multiplier = mapping.volumeFactor * sample;
  const width = String(trace.length).length;

  const rows: Required<UsageRow>[] = [];
  for (let index = 0; index < trace.length; index += sample) {
    const request = trace[index]!;
    const occurredAt = new Date(start.getTime() + Math.floor(request.atSeconds * msPerTraceSecond)).toISOString();
    const id = `${mapping.eventIdPrefix}-${String(index).padStart(width, '0')}`;
    rows.push(
      { eventId: `${id}-in`, meter: 'llm_input_token', quantity: String(Math.round(request.inputTokens * multiplier)), occurredAt },
      { eventId: `${id}-out`, meter: 'llm_output_token', quantity: String(Math.round(request.outputTokens * multiplier)), occurredAt },
    );
  }
  rows.sort(byArrival);
  return rows;
}
