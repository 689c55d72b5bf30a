import { Kysely, sql } from 'kysely';

/**
 * Creates the business record: contracts and their terms versions, periods with their
 * admission state and close result, usage events, grants and their ledger, invoices,
 * alerts, API keys and the audit log. Amounts are `numeric`; every write that must
 * happen once has a unique key so that a retry is a no-op.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('contracts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('customer_name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('draft', 'signed', 'ended')`))
    .addColumn('current_tier', 'text', (c) => c.notNull())
    .addColumn('next_tier', 'text')
    .addColumn('next_tier_from_period', 'integer')
    .addColumn('final_period_index', 'integer')
    .addColumn('review_override', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('signed_at', 'timestamptz')
    .addColumn('signed_by', 'text')
    .addColumn('ended_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('contracts_customer_idx').on('contracts').column('customer_id').execute();

  await db.schema
    .createTable('terms_versions')
    .addColumn('contract_id', 'text', (c) => c.notNull().references('contracts.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('effective_from_period', 'integer', (c) => c.notNull())
    .addColumn('terms', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addPrimaryKeyConstraint('terms_versions_pk', ['contract_id', 'version'])
    .addUniqueConstraint('terms_versions_effective_uq', ['contract_id', 'effective_from_period'])
    .execute();

  await db.schema
    .createTable('periods')
    .addColumn('contract_id', 'text', (c) => c.notNull().references('contracts.id'))
    .addColumn('period_index', 'integer', (c) => c.notNull())
    .addColumn('start_at', 'timestamptz', (c) => c.notNull())
    .addColumn('end_at', 'timestamptz', (c) => c.notNull())
    .addColumn('tier', 'text', (c) => c.notNull())
    .addColumn('admission', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('open', 'closed')`))
    .addColumn('statement', 'jsonb')
    .addColumn('close_state', 'jsonb')
    .addColumn('closed_at', 'timestamptz')
    .addPrimaryKeyConstraint('periods_pk', ['contract_id', 'period_index'])
    .execute();

  await db.schema
    .createTable('usage_events')
    .addColumn('contract_id', 'text', (c) => c.notNull().references('contracts.id'))
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('meter', 'text', (c) => c.notNull())
    .addColumn('quantity', 'numeric', (c) => c.notNull())
    .addColumn('credits', 'numeric', (c) => c.notNull())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('arrived_at', 'timestamptz', (c) => c.notNull())
    .addColumn('consumed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('period_index', 'integer', (c) => c.notNull())
    .addColumn('late', 'boolean', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('admitted', 'deferred')`))
    .addColumn('consumed_period_index', 'integer')
    .addColumn('arrival_seq', 'bigserial', (c) => c.notNull())
    .addColumn('properties', 'jsonb')
    .addPrimaryKeyConstraint('usage_events_pk', ['contract_id', 'event_id'])
    .execute();
  await db.schema
    .createIndex('usage_events_period_idx')
    .on('usage_events')
    .columns(['contract_id', 'period_index', 'status'])
    .execute();
  await db.schema
    .createIndex('usage_events_consumed_idx')
    .on('usage_events')
    .columns(['contract_id', 'consumed_period_index'])
    .execute();

  await db.schema
    .createTable('grants')
    .addColumn('contract_id', 'text', (c) => c.notNull().references('contracts.id'))
    .addColumn('grant_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('commit', 'rollover', 'prepaid', 'adjustment')`),
    )
    .addColumn('credits', 'numeric', (c) => c.notNull())
    .addColumn('valid_from', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('period_index', 'integer')
    .addColumn('reason', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('grants_pk', ['contract_id', 'grant_id'])
    .execute();

  await db.schema
    .createTable('ledger_movements')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('contract_id', 'text', (c) => c.notNull().references('contracts.id'))
    .addColumn('grant_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('issue', 'burn', 'rollover', 'forfeit', 'expire')`),
    )
    .addColumn('credits', 'numeric', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('period_index', 'integer', (c) => c.notNull())
    .addUniqueConstraint('ledger_movements_once_uq', ['contract_id', 'grant_id', 'kind', 'period_index'])
    .execute();

  // A single counter row numbers invoices inside the issuing transaction, so a rolled
  // back issue gives its number back and the sequence has no gaps (a SQL sequence would).
  await db.schema
    .createTable('invoice_counter')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('last_number', 'bigint', (c) => c.notNull())
    .execute();
  await sql`insert into invoice_counter (id, last_number) values (1, 0)`.execute(db);

  await db.schema
    .createTable('invoices')
    .addColumn('number', 'bigint', (c) => c.primaryKey())
    .addColumn('invoice_key', 'text', (c) => c.notNull().unique())
    .addColumn('contract_id', 'text', (c) => c.notNull().references('contracts.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('period', 'prepaid')`))
    .addColumn('period_index', 'integer')
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('total', 'numeric', (c) => c.notNull())
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('invoices_contract_idx').on('invoices').column('contract_id').execute();

  await db.schema
    .createTable('invoice_lines')
    .addColumn('invoice_number', 'bigint', (c) => c.notNull().references('invoices.number'))
    .addColumn('line_no', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('quantity', 'numeric', (c) => c.notNull())
    .addColumn('unit_price', 'numeric', (c) => c.notNull())
    .addColumn('amount', 'numeric', (c) => c.notNull())
    .addColumn('period_index', 'integer')
    .addPrimaryKeyConstraint('invoice_lines_pk', ['invoice_number', 'line_no'])
    .execute();

  await db.schema
    .createTable('alerts')
    .addColumn('alert_key', 'text', (c) => c.primaryKey())
    .addColumn('contract_id', 'text', (c) => c.notNull().references('contracts.id'))
    .addColumn('period_index', 'integer')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('recipients', 'jsonb', (c) => c.notNull())
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'sent', 'failed')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('sent_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('alerts_contract_idx').on('alerts').columns(['contract_id', 'status']).execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('contract_id', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('details', 'jsonb', (c) => c.notNull())
    .addColumn('operation_key', 'text', (c) => c.unique())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('audit_log_contract_idx').on('audit_log').column('contract_id').execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) =>
      c.notNull().check(sql`role in ('admin', 'sales', 'ops', 'account_manager', 'finance', 'ingest')`),
    )
    .addColumn('customer_id', 'text')
    .addColumn('label', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('api_key_id', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer', (c) => c.notNull())
    .addColumn('response', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['api_key_id', 'idempotency_key'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'idempotency_keys',
    'api_keys',
    'audit_log',
    'alerts',
    'invoice_lines',
    'invoices',
    'invoice_counter',
    'ledger_movements',
    'grants',
    'usage_events',
    'periods',
    'terms_versions',
    'contracts',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
