import type { Transaction } from 'kysely';
import { sql } from 'kysely';
import type { Db } from './connection';
import type { Database } from './schema';
import { normalizeDecimal } from './ledger';

export interface InvoiceLineDraft {
  kind: string;
  description: string;
  quantity: string;
  unitPrice: string;
  amount: string;
  periodIndex?: number | null;
}

export interface InvoiceDraft {
  /** Business key that makes issuing idempotent, e.g. `<contract>/period/3`. */
  key: string;
  contractId: string;
  kind: 'period' | 'prepaid';
  periodIndex: number | null;
  currency: string;
  issuedAt: string;
  lines: InvoiceLineDraft[];
  /** Sum of the line amounts, already rounded per line. */
  total: string;
}

export interface Invoice extends Omit<InvoiceDraft, 'key'> {
  number: string;
  key: string;
}

/**
 * Issues an invoice once per key: numbers come from a counter row updated in the same
 * transaction, so numbering is sequential with no gaps. Returns the invoice's number,
 * the existing one when the key was issued before.
 */
export async function issueInvoice(trx: Transaction<Database>, draft: InvoiceDraft): Promise<string> {
  const existing = await trx.selectFrom('invoices').select('number').where('invoice_key', '=', draft.key).executeTakeFirst();
  if (existing) return existing.number;

  const counter = await trx
    .updateTable('invoice_counter')
    .set({ last_number: sql`last_number + 1` })
    .where('id', '=', 1)
    .returning('last_number')
    .executeTakeFirstOrThrow();
  const number = counter.last_number;

  await trx
    .insertInto('invoices')
    .values({
      number,
      invoice_key: draft.key,
      contract_id: draft.contractId,
      kind: draft.kind,
      period_index: draft.periodIndex,
      currency: draft.currency,
      total: draft.total,
      issued_at: draft.issuedAt,
    })
    .execute();
  if (draft.lines.length > 0) {
    await trx
      .insertInto('invoice_lines')
      .values(
        draft.lines.map((line, index) => ({
          invoice_number: number,
          line_no: index + 1,
          kind: line.kind,
          description: line.description,
          quantity: line.quantity,
          unit_price: line.unitPrice,
          amount: line.amount,
          period_index: line.periodIndex ?? null,
        })),
      )
      .execute();
  }
  return number;
}

/** Reads invoices with their lines in number order; money keeps the scale it was issued with. */
export async function listInvoices(
  db: Db,
  filter: { contractId?: string; number?: string; limit?: number; after?: string },
): Promise<Invoice[]> {
  let query = db.selectFrom('invoices').selectAll().orderBy(sql`number::bigint`).limit(filter.limit ?? 500);
  if (filter.contractId) query = query.where('contract_id', '=', filter.contractId);
  if (filter.number) query = query.where('number', '=', filter.number);
  if (filter.after) query = query.where(sql<boolean>`number::bigint > ${filter.after}::bigint`);
  const invoices = await query.execute();
  if (invoices.length === 0) return [];

  const lines = await db
    .selectFrom('invoice_lines')
    .selectAll()
    .where(
      'invoice_number',
      'in',
      invoices.map((i) => i.number),
    )
    .orderBy('invoice_number')
    .orderBy('line_no')
    .execute();

  return invoices.map((invoice) => ({
    number: invoice.number,
    key: invoice.invoice_key,
    contractId: invoice.contract_id,
    kind: invoice.kind,
    periodIndex: invoice.period_index,
    currency: invoice.currency,
    issuedAt: invoice.issued_at.toISOString(),
    total: invoice.total,
    lines: lines
      .filter((line) => line.invoice_number === invoice.number)
      .map((line) => ({
        kind: line.kind,
        description: line.description,
        quantity: normalizeDecimal(line.quantity),
        unitPrice: line.unit_price,
        amount: line.amount,
        periodIndex: line.period_index,
      })),
  }));
}
