// Reads what the live contracts recorded: statements of closed periods, invoices and
// alerts. The API has no routes for these reads yet, so they come from PostgreSQL
// through the same queries the API would use.
import type { Db } from '../db/connection';
import { listAlerts, type StoredAlert } from '../db/alerts';
import { listInvoices, type Invoice } from '../db/invoices';
import type { PeriodStatement } from '../domain';

/** Returns the statement of a closed period, or undefined while it is open. */
export async function closedStatement(db: Db, contractId: string, periodIndex: number): Promise<PeriodStatement | undefined> {
  const row = await db
    .selectFrom('periods')
    .select(['status', 'statement'])
    .where('contract_id', '=', contractId)
    .where('period_index', '=', periodIndex)
    .executeTakeFirst();
  return row?.status === 'closed' ? (row.statement as PeriodStatement) : undefined;
}

/** Reads the statements of a contract's closed periods, by period index. */
export async function closedStatements(db: Db, contractId: string): Promise<PeriodStatement[]> {
  const rows = await db
    .selectFrom('periods')
    .select('statement')
    .where('contract_id', '=', contractId)
    .where('status', '=', 'closed')
    .orderBy('period_index')
    .execute();
  return rows.map((row) => row.statement as PeriodStatement);
}

/** Reads a contract's invoices with their lines, in number order. */
export function contractInvoices(db: Db, contractId: string): Promise<Invoice[]> {
  return listInvoices(db, { contractId, limit: 10_000 });
}

/** Reads every alert of a contract with its delivery state. */
export async function contractAlerts(db: Db, contractId: string): Promise<StoredAlert[]> {
  const alerts: StoredAlert[] = [];
  for (;;) {
    const page = await listAlerts(db, { contractId, limit: 500, ...(alerts.length > 0 ? { after: alerts.at(-1)!.key } : {}) });
    alerts.push(...page);
    if (page.length < 500) return alerts;
  }
}
