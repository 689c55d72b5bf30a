import type { ColumnType, Generated, JSONColumnType } from 'kysely';

/** A `numeric` column: PostgreSQL returns it as a decimal string, and accepts strings. */
type Numeric = ColumnType<string, string, string>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Json<T extends object | null> = JSONColumnType<T, string, string>;

export interface ContractsTable {
  id: string;
  customer_id: string;
  customer_name: string;
  status: 'draft' | 'signed' | 'ended';
  current_tier: string;
  next_tier: string | null;
  next_tier_from_period: number | null;
  final_period_index: number | null;
  review_override: JSONColumnType<{ by: string; reason: string; at: string; redFlags: string[] }, string, string> | null;
  created_at: CreatedAt;
  created_by: string;
  signed_at: Timestamp | null;
  signed_by: string | null;
  ended_at: Timestamp | null;
}

export interface TermsVersionsTable {
  contract_id: string;
  version: number;
  effective_from_period: number;
  terms: Json<object>;
  created_at: CreatedAt;
  created_by: string;
  reason: string | null;
}

export interface PeriodsTable {
  contract_id: string;
  period_index: number;
  start_at: Timestamp;
  end_at: Timestamp;
  tier: string;
  admission: Json<object>;
  status: 'open' | 'closed';
  statement: Json<object> | null;
  close_state: Json<object> | null;
  closed_at: Timestamp | null;
}

export interface UsageEventsTable {
  contract_id: string;
  event_id: string;
  meter: string;
  quantity: Numeric;
  credits: Numeric;
  occurred_at: Timestamp;
  arrived_at: Timestamp;
  consumed_at: Timestamp;
  period_index: number;
  late: boolean;
  status: 'admitted' | 'deferred';
  consumed_period_index: number | null;
  arrival_seq: Generated<string>;
  properties: Json<Record<string, unknown>> | null;
}

export interface GrantsTable {
  contract_id: string;
  grant_id: string;
  kind: 'commit' | 'rollover' | 'prepaid' | 'adjustment';
  credits: Numeric;
  valid_from: Timestamp;
  expires_at: Timestamp;
  period_index: number | null;
  reason: string | null;
  created_at: CreatedAt;
  created_by: string;
}

export interface LedgerMovementsTable {
  id: Generated<string>;
  contract_id: string;
  grant_id: string;
  kind: 'issue' | 'burn' | 'rollover' | 'forfeit' | 'expire';
  credits: Numeric;
  at: Timestamp;
  period_index: number;
}

export interface InvoiceCounterTable {
  id: number;
  last_number: string;
}

export interface InvoicesTable {
  number: string;
  invoice_key: string;
  contract_id: string;
  kind: 'period' | 'prepaid';
  period_index: number | null;
  currency: string;
  total: Numeric;
  issued_at: Timestamp;
}

export interface InvoiceLinesTable {
  invoice_number: string;
  line_no: number;
  kind: string;
  description: string;
  quantity: Numeric;
  unit_price: Numeric;
  amount: Numeric;
  period_index: number | null;
}

export interface AlertsTable {
  alert_key: string;
  contract_id: string;
  period_index: number | null;
  kind: string;
  recipients: Json<string[]>;
  data: Json<Record<string, unknown>>;
  status: 'pending' | 'sent' | 'failed';
  attempts: ColumnType<number, number | undefined, number>;
  last_error: string | null;
  message_id: string;
  created_at: CreatedAt;
  sent_at: Timestamp | null;
}

export interface AuditLogTable {
  id: Generated<string>;
  contract_id: string | null;
  actor: string;
  action: string;
  reason: string | null;
  details: Json<Record<string, unknown>>;
  operation_key: string | null;
  at: CreatedAt;
}

export type Role = 'admin' | 'sales' | 'ops' | 'account_manager' | 'finance' | 'ingest';

export interface ApiKeysTable {
  id: string;
  secret_hash: string;
  role: Role;
  customer_id: string | null;
  label: string | null;
  created_at: CreatedAt;
  revoked_at: Timestamp | null;
}

export interface IdempotencyKeysTable {
  api_key_id: string;
  idempotency_key: string;
  request_hash: string;
  status_code: number;
  response: Json<object>;
  created_at: CreatedAt;
}

export interface Database {
  contracts: ContractsTable;
  terms_versions: TermsVersionsTable;
  periods: PeriodsTable;
  usage_events: UsageEventsTable;
  grants: GrantsTable;
  ledger_movements: LedgerMovementsTable;
  invoice_counter: InvoiceCounterTable;
  invoices: InvoicesTable;
  invoice_lines: InvoiceLinesTable;
  alerts: AlertsTable;
  audit_log: AuditLogTable;
  api_keys: ApiKeysTable;
  idempotency_keys: IdempotencyKeysTable;
}
