import type { UsageRow } from '../domain';

/** Raised for a usage file that cannot be read as CSV with the expected columns; names the line and column. */
export class UsageCsvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageCsvError';
  }
}

/** Columns a usage file must have, and the optional one. */
export const REQUIRED_COLUMNS = ['occurred_at', 'meter', 'quantity'] as const;
export const OPTIONAL_COLUMNS = ['event_id'] as const;

/** A usage row with the file line it came from. */
export interface UsageCsvRow extends UsageRow {
  line: number;
}

/**
 * Splits CSV text into records of fields: comma separated, fields optionally in double
 * quotes with `""` for a quote inside, lines ending in LF or CRLF. Returns each record
 * with the line number it starts on.
 */
export function parseCsvRecords(text: string, source: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let fieldStarted = false;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quoted) {
      if (char === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (char === '\n') line++;
        field += char;
      }
      continue;
    }
    if (char === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (char === ',') {
      fields.push(field);
      field = '';
      fieldStarted = false;
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += char;
      fieldStarted = true;
    }
  }
  if (quoted) throw new UsageCsvError(`${source} line ${recordLine}: a quoted field is not closed; add the closing double quote.`);
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}

/**
 * Reads a usage file: a header naming `occurred_at`, `meter`, `quantity` and
 * optionally `event_id` (in any order; other columns are ignored), then one event per
 * line. Throws `UsageCsvError` naming the line and column of the first problem.
 */
export function parseUsageCsv(text: string, source = 'usage file'): UsageCsvRow[] {
  const records = parseCsvRecords(text.startsWith('\ufeff') ? text.slice(1) : text, source);
  const header = records[0];
  if (header === undefined) {
    throw new UsageCsvError(`${source} is empty: expected a header line with occurred_at,meter,quantity[,event_id].`);
  }
  const names = header.fields.map((name) => name.trim().toLowerCase());
  const position = (name: string) => names.indexOf(name);
  const missing = REQUIRED_COLUMNS.filter((name) => position(name) < 0);
  if (missing.length > 0) {
    throw new UsageCsvError(
      `${source} line ${header.line}: the header lacks column ${missing.join(', ')}; expected occurred_at,meter,quantity[,event_id], got ${names.join(',')}.`,
    );
  }
  const occurredAt = position('occurred_at');
  const meter = position('meter');
  const quantity = position('quantity');
  const eventId = position('event_id');

  const rows: UsageCsvRow[] = [];
  for (const record of records.slice(1)) {
    if (record.fields.length !== names.length) {
      throw new UsageCsvError(`${source} line ${record.line}: expected ${names.length} fields like the header, got ${record.fields.length}.`);
    }
    const value = (index: number, column: string): string => {
      const text = (record.fields[index] as string).trim();
      if (text === '') throw new UsageCsvError(`${source} line ${record.line}, column ${column}: the value is empty.`);
      return text;
    };
    const id = eventId < 0 ? '' : (record.fields[eventId] as string).trim();
    rows.push({
      line: record.line,
      occurredAt: value(occurredAt, 'occurred_at'),
      meter: value(meter, 'meter'),
      quantity: value(quantity, 'quantity'),
      ...(id === '' ? {} : { eventId: id }),
    });
  }
  return rows;
}
