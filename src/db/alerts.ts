import { createHash } from 'node:crypto';
import type { Selectable, Transaction } from 'kysely';
import type { AlertKind, AlertToRaise } from '../domain/alerts';
import type { Db } from './connection';
import type { AlertsTable, Database } from './schema';

type Executor = Db | Transaction<Database>;

/** Delivery state of an alert: `pending` until the first attempt, then `sent` or `failed` (retried). */
export type AlertStatus = 'pending' | 'sent' | 'failed';

/** An alert as stored, with its delivery state. */
export interface StoredAlert {
  key: string;
  contractId: string;
  kind: AlertKind;
  /** The period that raised the alert, or null for an alert of no period. */
  periodIndex: number | null;
  recipients: string[];
  data: AlertToRaise['data'];
  status: AlertStatus;
  /** Delivery attempts so far, successful or not. */
  attempts: number;
  /** Error of the latest failed attempt, or the recipients a server rejected on a sent alert, else null. */
  lastError: string | null;
  /** Message-ID header of the email, the same on every attempt. */
  messageId: string;
  /** ISO 8601 instant the alert was stored. */
  createdAt: string;
  /** ISO 8601 instant the transport accepted the email, or null until then. */
  sentAt: string | null;
}

/** Maximum length of a stored `last_error`, because SMTP replies can be long and only their start is useful. */
const MAX_ERROR_LENGTH = 1000;

/**
 * Returns the Message-ID of an alert's email: `<` the first 32 hex digits of the
 * SHA-256 of the key `@trueup.alerts>`. It depends on the key alone, so every attempt
 * to send one alert carries the same Message-ID.
 */
export function alertMessageId(key: string): string {
  return `<${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32)}@trueup.alerts>`;
}

/**
 * Inserts alerts as `pending`, skipping any whose key is already stored, and returns
 * the keys newly stored, in input order. Storing the same alerts again (a retried or
 * replayed close) stores nothing and returns an empty list.
 */
export async function storeAlerts(db: Executor, contractId: string, alerts: readonly AlertToRaise[]): Promise<string[]> {
  if (alerts.length === 0) return [];
  const rows = alerts.map((alert) => ({
    alert_key: alert.key,
    contract_id: contractId,
    period_index: alert.periodIndex,
    kind: alert.kind,
    recipients: JSON.stringify(alert.recipients),
    data: JSON.stringify(alert.data),
    status: 'pending' as const,
    attempts: 0,
    message_id: alertMessageId(alert.key),
  }));
  const inserted = await db
    .insertInto('alerts')
    .values(rows)
    .onConflict((conflict) => conflict.column('alert_key').doNothing())
    .returning('alert_key')
    .execute();
  const newKeys = new Set(inserted.map((row) => row.alert_key));
  return [...new Set(alerts.map((alert) => alert.key))].filter((key) => newKeys.has(key));
}

export interface AlertFilter {
  contractId?: string;
  status?: AlertStatus;
  limit: number;
  /** Key of the last alert of the previous page, because alerts are ordered by key. */
  after?: string;
}

/** Lists alerts ordered by key, with their delivery state, one page at a time. */
export async function listAlerts(db: Executor, filter: AlertFilter): Promise<StoredAlert[]> {
  let query = db.selectFrom('alerts').selectAll().orderBy('alert_key').limit(filter.limit);
  if (filter.contractId !== undefined) query = query.where('contract_id', '=', filter.contractId);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.after !== undefined) query = query.where('alert_key', '>', filter.after);
  const rows = await query.execute();
  return rows.map(toStoredAlert);
}

/** Returns the alerts of a contract still to deliver (`pending` or `failed`), ordered by key. */
export async function pendingAlerts(db: Executor, contractId: string): Promise<StoredAlert[]> {
  const rows = await db
    .selectFrom('alerts')
    .selectAll()
    .where('contract_id', '=', contractId)
    .where('status', 'in', ['pending', 'failed'])
    .orderBy('alert_key')
    .execute();
  return rows.map(toStoredAlert);
}

/**
 * Reads an alert under a row lock for the rest of the transaction, unless it is sent
 * already or another transaction holds the lock (a delivery running concurrently), in
 * which case it returns undefined.
 */
export async function claimAlertForDelivery(trx: Transaction<Database>, key: string): Promise<StoredAlert | undefined> {
  const row = await trx
    .selectFrom('alerts')
    .selectAll()
    .where('alert_key', '=', key)
    .where('status', 'in', ['pending', 'failed'])
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
  return row ? toStoredAlert(row) : undefined;
}

/**
 * Records a delivery attempt that the transport accepted: status `sent`, one more
 * attempt, `sentAt`. `note` (recipients the server rejected) goes to `lastError`, else
 * it is cleared. An alert already sent is left unchanged.
 */
export async function recordAlertSent(db: Executor, key: string, sentAt: Date, note: string | null = null): Promise<void> {
  await db
    .updateTable('alerts')
    .set((eb) => ({ status: 'sent', attempts: eb('attempts', '+', 1), sent_at: sentAt, last_error: truncate(note) }))
    .where('alert_key', '=', key)
    .where('status', '!=', 'sent')
    .execute();
}

/** Records a failed delivery attempt: status `failed`, one more attempt, the error. An alert already sent is left unchanged. */
export async function recordAlertFailed(db: Executor, key: string, error: string): Promise<void> {
  await db
    .updateTable('alerts')
    .set((eb) => ({ status: 'failed', attempts: eb('attempts', '+', 1), last_error: truncate(error) }))
    .where('alert_key', '=', key)
    .where('status', '!=', 'sent')
    .execute();
}

function truncate(text: string | null): string | null {
  if (text === null || text.length <= MAX_ERROR_LENGTH) return text;
  return `${text.slice(0, MAX_ERROR_LENGTH - 3)}...`;
}

function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

function toStoredAlert(row: Selectable<AlertsTable>): StoredAlert {
  return {
    key: row.alert_key,
    contractId: row.contract_id,
    kind: row.kind as AlertKind,
    periodIndex: row.period_index,
    recipients: row.recipients,
    data: row.data as AlertToRaise['data'],
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    messageId: row.message_id,
    createdAt: iso(row.created_at) ?? '',
    sentAt: iso(row.sent_at),
  };
}
