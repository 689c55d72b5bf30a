import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { DraftTerms, Terms } from '../domain';
import type { Db } from './connection';
import type { Database } from './schema';

export interface ContractRow {
  id: string;
  customerId: string;
  customerName: string;
  status: 'draft' | 'signed' | 'ended';
  currentTier: string;
  nextTier: string | null;
  nextTierFromPeriod: number | null;
  finalPeriodIndex: number | null;
  createdAt: string;
  createdBy: string;
  signedAt: string | null;
  signedBy: string | null;
  endedAt: string | null;
  reviewOverride: { by: string; reason: string; at: string; redFlags: string[] } | null;
}

export interface TermsVersion {
  version: number;
  effectiveFromPeriod: number;
  terms: Terms;
  createdAt: string;
  createdBy: string;
  reason: string | null;
}

type Executor = Db | Transaction<Database>;

function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

function toContractRow(row: {
  id: string;
  customer_id: string;
  customer_name: string;
  status: 'draft' | 'signed' | 'ended';
  current_tier: string;
  next_tier: string | null;
  next_tier_from_period: number | null;
  final_period_index: number | null;
  created_at: Date;
  created_by: string;
  signed_at: Date | null;
  signed_by: string | null;
  ended_at: Date | null;
  review_override: ContractRow['reviewOverride'];
}): ContractRow {
  return {
    id: row.id,
    customerId: row.customer_id,
    customerName: row.customer_name,
    status: row.status,
    currentTier: row.current_tier,
    nextTier: row.next_tier,
    nextTierFromPeriod: row.next_tier_from_period,
    finalPeriodIndex: row.final_period_index,
    createdAt: iso(row.created_at)!,
    createdBy: row.created_by,
    signedAt: iso(row.signed_at),
    signedBy: row.signed_by,
    endedAt: iso(row.ended_at),
    reviewOverride: row.review_override,
  };
}

/** Stores a new draft contract with its terms as version 1, effective from period 0. */
export async function createDraft(db: Db, terms: DraftTerms, by: string): Promise<string> {
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('contracts')
      .values({
        id,
        customer_id: terms.customer.id,
        customer_name: terms.customer.name,
        status: 'draft',
        current_tier: terms.initialTier,
        created_by: by,
      })
      .execute();
    await trx
      .insertInto('terms_versions')
      .values({ contract_id: id, version: 1, effective_from_period: 0, terms: JSON.stringify(terms), created_by: by, reason: 'draft' })
      .execute();
  });
  return id;
}

/** Replaces a draft's terms; returns false when the contract is not a draft. */
export async function replaceDraftTerms(db: Db, id: string, terms: DraftTerms, by: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const contract = await lockContract(trx, id);
    if (!contract || contract.status !== 'draft') return false;
    await trx
      .updateTable('contracts')
      .set({ customer_id: terms.customer.id, customer_name: terms.customer.name, current_tier: terms.initialTier })
      .where('id', '=', id)
      .execute();
    await trx
      .updateTable('terms_versions')
      .set({ terms: JSON.stringify(terms), created_by: by })
      .where('contract_id', '=', id)
      .where('version', '=', 1)
      .execute();
    return true;
  });
}

const contractColumns = [
  'id',
  'customer_id',
  'customer_name',
  'status',
  'current_tier',
  'next_tier',
  'next_tier_from_period',
  'final_period_index',
  'created_at',
  'created_by',
  'signed_at',
  'signed_by',
  'ended_at',
  'review_override',
] as const;

export async function findContract(db: Executor, id: string): Promise<ContractRow | undefined> {
  const row = await db.selectFrom('contracts').select(contractColumns).where('id', '=', id).executeTakeFirst();
  return row ? toContractRow(row) : undefined;
}

/** Reads the contract row under a row lock for the rest of the transaction. */
export async function lockContract(trx: Transaction<Database>, id: string): Promise<ContractRow | undefined> {
  const row = await trx.selectFrom('contracts').select(contractColumns).where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? toContractRow(row) : undefined;
}

export interface ContractFilter {
  status?: 'draft' | 'signed' | 'ended';
  customerId?: string;
  limit: number;
  /** Id of the last contract of the previous page. */
  after?: string;
}

export async function listContracts(db: Db, filter: ContractFilter): Promise<ContractRow[]> {
  let query = db.selectFrom('contracts').select(contractColumns).orderBy('id').limit(filter.limit);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.customerId) query = query.where('customer_id', '=', filter.customerId);
  if (filter.after) query = query.where('id', '>', filter.after);
  const rows = await query.execute();
  return rows.map(toContractRow);
}

export async function listTermsVersions(db: Executor, contractId: string): Promise<TermsVersion[]> {
  const rows = await db
    .selectFrom('terms_versions')
    .selectAll()
    .where('contract_id', '=', contractId)
    .orderBy('version')
    .execute();
  return rows.map((row) => ({
    version: row.version,
    effectiveFromPeriod: row.effective_from_period,
    terms: row.terms as Terms,
    createdAt: iso(row.created_at)!,
    createdBy: row.created_by,
    reason: row.reason,
  }));
}

/** The terms version in force for a period: the latest whose effective period is at or before it. */
export async function termsInForce(db: Executor, contractId: string, periodIndex: number): Promise<TermsVersion> {
  const versions = await listTermsVersions(db, contractId);
  const inForce = versions.filter((v) => v.effectiveFromPeriod <= periodIndex).at(-1);
  if (!inForce) throw new Error(`Contract ${contractId} has no terms version in force for period ${periodIndex}.`);
  return inForce;
}
