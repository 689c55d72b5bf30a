import type { PeriodAdmissionState, PeriodStatement } from '../domain';
import type { Db } from './connection';

/** A period's row as the API reads it: the statement once closed, the admission state while open. */
export interface PeriodRecord {
  periodIndex: number;
  start: Date;
  end: Date;
  tier: string;
  status: 'open' | 'closed';
  admission: PeriodAdmissionState;
  statement: PeriodStatement | null;
  closedAt: Date | null;
}

/** Reads every period of a contract that has a row (opened by usage or by the previous close), by index. */
export async function listPeriodRecords(db: Db, contractId: string): Promise<PeriodRecord[]> {
  const rows = await db
    .selectFrom('periods')
    .select(['period_index', 'start_at', 'end_at', 'tier', 'status', 'admission', 'statement', 'closed_at'])
    .where('contract_id', '=', contractId)
    .orderBy('period_index')
    .execute();
  return rows.map((row) => ({
    periodIndex: row.period_index,
    start: row.start_at,
    end: row.end_at,
    tier: row.tier,
    status: row.status,
    admission: row.admission as PeriodAdmissionState,
    statement: row.statement as PeriodStatement | null,
    closedAt: row.closed_at,
  }));
}

export interface AuditRecord {
  id: string;
  contractId: string | null;
  actor: string;
  action: string;
  reason: string | null;
  details: Record<string, unknown>;
  at: string;
}

/** Lists audit entries oldest first, one page at a time; `after` is the id of the previous page's last entry. */
export async function listAuditEntries(db: Db, filter: { contractId?: string; after?: string; limit: number }): Promise<AuditRecord[]> {
  let query = db
    .selectFrom('audit_log')
    .select(['id', 'contract_id', 'actor', 'action', 'reason', 'details', 'at'])
    .orderBy('id')
    .limit(filter.limit);
  if (filter.contractId !== undefined) query = query.where('contract_id', '=', filter.contractId);
  if (filter.after !== undefined) query = query.where('id', '>', filter.after);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: String(row.id),
    contractId: row.contract_id,
    actor: row.actor,
    action: row.action,
    reason: row.reason,
    details: row.details,
    at: row.at.toISOString(),
  }));
}
