import { periodBounds, periodIndexAt, type Terms } from '../domain';
import type { Db } from './connection';
import { findContract, listTermsVersions } from './contracts';
import { currentGrantBalances } from './ledger';

/**
 * Builds the API's view of a contract: its row, terms versions, the tier in force, the
 * period open at `now` and the current balance of each grant.
 */
export async function describeContract(db: Db, contractId: string, now: Date) {
  const contract = await findContract(db, contractId);
  if (!contract) return undefined;
  const versions = await listTermsVersions(db, contractId);
  // Amendments keep startDate and timeZone but may change termMonths, so the latest
  // version's term decides which periods exist.
  const term = versions.at(-1)!.terms as Terms;

  let currentPeriod = null;
  if (contract.status === 'signed') {
    const index = periodIndexAt(term, now);
    if (index !== undefined) {
      const bounds = periodBounds(term, index);
      const row = await db
        .selectFrom('periods')
        .select(['tier', 'status'])
        .where('contract_id', '=', contractId)
        .where('period_index', '=', index)
        .executeTakeFirst();
      currentPeriod = {
        index,
        start: bounds.start.toISOString(),
        end: bounds.end.toISOString(),
        tier: row?.tier ?? contract.currentTier,
        status: row?.status ?? 'open',
      };
    }
  }

  const grants = contract.status === 'draft' ? [] : await currentGrantBalances(db, contractId);
  return {
    ...contract,
    termsVersions: versions,
    currentPeriod,
    grants: grants.map((g) => ({ ...g.grant, remaining: g.remaining })),
  };
}
