import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema';

export interface AuditEntry {
  contractId: string | null;
  actor: string;
  action: string;
  reason?: string | null;
  details?: Record<string, unknown>;
  /** Unique key of the operation (a workflow update id, an idempotency key); a repeat is a no-op. */
  operationKey?: string | null;
  at?: Date | string;
}

/** Records who did what, when and why. Returns false when the operation key was already recorded. */
export async function recordAudit(db: Kysely<Database> | Transaction<Database>, entry: AuditEntry): Promise<boolean> {
  const result = await db
    .insertInto('audit_log')
    .values({
      contract_id: entry.contractId,
      actor: entry.actor,
      action: entry.action,
      reason: entry.reason ?? null,
      details: JSON.stringify(entry.details ?? {}),
      operation_key: entry.operationKey ?? null,
      ...(entry.at !== undefined ? { at: entry.at } : {}),
    })
    .onConflict((oc) => oc.column('operation_key').doNothing())
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}
