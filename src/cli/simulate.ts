import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { unwrapTerms } from './terms-file';
import { DomainError, parseTerms, simulate, TermsValidationError, DEFAULT_CLOSE_DELAY_MS } from '../domain';
import { formatSimulationCsv, formatSimulationTable } from './simulation-format';
import { parseUsageCsv, UsageCsvError } from './usage-csv';

const HELP = `Usage: trueup simulate --terms TERMS.json --usage USAGE.csv [--format table|json|csv] [--close-delay 1h]

Runs a contract over a usage file the way a live contract runs and prints each
period's credits, charges and trigger, the invoices and the totals.

Options:
  --terms FILE         Terms document (JSON)
  --usage FILE         Usage CSV with columns occurred_at, meter, quantity and optionally event_id
  --format FORMAT      table (default), json or csv
  --close-delay TIME   Time after a period's end before it closes: a number with unit ms, s, m, h or d (default 1h)

Exit status: 0 on success, 1 when the terms or the usage file are invalid, 2 on a usage error.
`;

/** Parses a duration such as `1h`, `30m`, `90s`, `500ms` or `0` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (match === null) {
    throw new RangeError(`Invalid --close-delay "${text}": expected a number with unit ms, s, m, h or d, such as 1h.`);
  }
  const unit = match[2] ?? (Number(match[1]) === 0 ? 'ms' : undefined);
  if (unit === undefined) throw new RangeError(`Invalid --close-delay "${text}": add a unit (ms, s, m, h or d), such as 1h.`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(match[1]) * factor);
}

function readJson(path: string): unknown {
  const text = fs.readFileSync(path, 'utf8');
  try {
    return unwrapTerms(JSON.parse(text) as unknown);
  } catch (error) {
    throw new UsageCsvError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Runs `trueup simulate`: reads the terms and the usage file, simulates the whole term
 * and writes the result to `out`. Errors go to `err`. Returns the exit status.
 */
export async function runSimulate(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let options;
  try {
    options = parseArgs({
      args: argv,
      options: {
        terms: { type: 'string' },
        usage: { type: 'string' },
        format: { type: 'string', default: 'table' },
        'close-delay': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }).values;
  } catch (error) {
    err.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (options.help === true) {
    out.write(HELP);
    return 0;
  }
  const format = options.format ?? 'table';
  if (options.terms === undefined || options.usage === undefined || !['table', 'json', 'csv'].includes(format)) {
    const problem =
      options.terms === undefined ? 'Missing --terms FILE.' : options.usage === undefined ? 'Missing --usage FILE.' : `Invalid --format "${format}": expected table, json or csv.`;
    err.write(`${problem}\n\n${HELP}`);
    return 2;
  }
  let closeDelayMs = DEFAULT_CLOSE_DELAY_MS;
  if (options['close-delay'] !== undefined) {
    try {
      closeDelayMs = parseDuration(options['close-delay']);
    } catch (error) {
      err.write(`${(error as Error).message}\n`);
      return 2;
    }
  }

  try {
    const terms = parseTerms(readJson(options.terms));
    const rows = parseUsageCsv(fs.readFileSync(options.usage, 'utf8'), options.usage);
    const result = simulate(terms, rows, { closeDelayMs });
    if (result.events.rejected.length > 0) {
      for (const rejected of result.events.rejected) {
        const row = rows[rejected.row - 1];
        err.write(`${options.usage} line ${row?.line ?? '?'}: ${rejected.reason}\n`);
      }
      err.write(`${result.events.rejected.length} usage rows are invalid; fix or remove them and run again.\n`);
      return 1;
    }
    if (format === 'json') out.write(`${JSON.stringify(result, null, 2)}\n`);
    else if (format === 'csv') out.write(formatSimulationCsv(result));
    else out.write(formatSimulationTable(result));
    return 0;
  } catch (error) {
    if (error instanceof TermsValidationError) {
      err.write(`${options.terms}: invalid terms\n`);
      for (const issue of error.issues) err.write(`  ${issue.path || '(document)'}: ${issue.message} [${issue.rule}]\n`);
      return 1;
    }
    if (error instanceof UsageCsvError || error instanceof DomainError) {
      err.write(`${error.message}\n`);
      return 1;
    }
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      err.write(`File not found: ${(error as NodeJS.ErrnoException).path ?? ''}\n`);
      return 1;
    }
    throw error;
  }
}
