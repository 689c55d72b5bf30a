import { ApplicationFailure } from '@temporalio/common';
import type { Transaction } from 'kysely';
import {
  Exact,
  DECIMAL_PATTERN,
  applyGrantBalances,
  parseTerms,
  periodBounds,
  tierByName,
  tierRank,
  tierUpgradedAlert,
  upgradeAdmission,
  TermsValidationError,
  type Grant,
  type Terms,
} from '../domain';
import { recordAudit } from '../db/audit';
import { storeAlerts } from '../db/alerts';
import { listTermsVersions, lockContract, termsInForce, type ContractRow } from '../db/contracts';
import { grantBalances, recordGrant } from '../db/ledger';
import { lockOrOpenPeriod, recordUpgrade, saveAdmission } from '../db/periods';
import type { Database } from '../db/schema';
import type {
  AmendRequest,
  AmendResult,
  ChangeTierRequest,
  ChangeTierResult,
  GrantCreditsRequest,
  GrantCreditsResult,
  TerminateRequest,
  TerminateResult,
} from '../workflows/messages';
import type { ActivityDeps } from './contract-activities';
import { contractNotFound, finalPeriodOf, openPeriodAt } from './contract-activities';

/** Failure types of refused operations; the API maps them to 409 or 422 problems. */
export const OPERATION_REJECTED = 'OperationRejected';

interface OperationInput<R> {
  contractId: string;
  request: R;
  /** Workflow time of the request: the clock of record for "the open period". */
  now: string;
  /** Unique key of the operation; a retried activity finds its first result by it. */
  operationKey: string;
}

function reject(contractId: string, field: string, message: string, details: Record<string, unknown> = {}): never {
  throw ApplicationFailure.nonRetryable(message, OPERATION_REJECTED, { contractId, field, ...details });
}

/** Returns the stored result of an operation already recorded under this key, if any. */
async function previousResult<T>(trx: Transaction<Database>, operationKey: string): Promise<T | undefined> {
  const row = await trx.selectFrom('audit_log').select('details').where('operation_key', '=', operationKey).executeTakeFirst();
  return row ? ((row.details as { result?: T }).result ?? undefined) : undefined;
}

async function lockSigned(trx: Transaction<Database>, contractId: string): Promise<ContractRow> {
  const contract = await lockContract(trx, contractId);
  if (!contract) contractNotFound(contractId);
  if (contract.status !== 'signed') reject(contractId, 'contractId', `Contract ${contractId} is ${contract.status}; only a running contract can be changed.`);
  return contract;
}

/** Returns the open period at `now` and its terms, or rejects when the term is over. */
async function openPeriodOf(trx: Transaction<Database>, contract: ContractRow, now: Date): Promise<{ index: number; terms: Terms }> {
  // Amendments keep startDate and timeZone but may change termMonths, so the latest
  // version's term decides where the contract ends.
  const term = (await listTermsVersions(trx, contract.id)).at(-1)!.terms;
  const index = openPeriodAt(term, now);
  const finalIndex = finalPeriodOf(term, contract);
  if (index === undefined || index > finalIndex) {
    reject(contract.id, 'contractId', `Contract ${contract.id} has no open period at ${now.toISOString()}; its term is over.`);
  }
  const { terms } = await termsInForce(trx, contract.id, index);
  return { index, terms };
}

/** Creates the activities behind ops' operations on a running contract; each writes an audit entry with who, when and why. */
export function createOperationActivities(deps: ActivityDeps) {
  const { db } = deps;

  /**
   * Moves the contract to a higher tier for the whole open period (the commit grant grows
   * and a throttle is lifted), or schedules a lower tier from the next period.
   */
  async function changeTier(input: OperationInput<ChangeTierRequest>): Promise<ChangeTierResult> {
    const { contractId, request } = input;
    const now = new Date(input.now);
    const result = await db.transaction().execute(async (trx) => {
      const contract = await lockSigned(trx, contractId);
      const earlier = await previousResult<ChangeTierResult>(trx, input.operationKey);
      if (earlier) return earlier;

      const { index, terms } = await openPeriodOf(trx, contract, now);
      if (!terms.tiers.some((t) => t.name === request.tier)) {
        reject(contractId, 'tier', `Tier "${request.tier}" is not one of this contract's tiers (${terms.tiers.map((t) => t.name).join(', ')}).`);
      }
      const period = await lockOrOpenPeriod(trx, contract, index);
      const from = period.tier;
      const direction = tierRank(terms, request.tier) - tierRank(terms, from);
      if (direction === 0) reject(contractId, 'tier', `The contract is already on tier "${from}" in period ${index}.`);

      let outcome: ChangeTierResult;
      if (direction > 0) {
        const state = upgradeAdmission(period.admission, terms, request.tier, input.now);
        await recordUpgrade(trx, contractId, terms, index, request.tier);
        await saveAdmission(trx, contractId, state);
        await storeAlerts(trx, contractId, [tierUpgradedAlert(terms, contractId, index, from, request.tier)]);
        outcome = { previousTier: from, tier: request.tier, effective: 'now', effectiveFromPeriod: index };
      } else {
        if (index >= finalPeriodOf(terms, contract)) {
          reject(contractId, 'tier', `Period ${index} is the contract's last, so a lower tier from the next period would never apply.`);
        }
        await trx
          .updateTable('contracts')
          .set({ next_tier: request.tier, next_tier_from_period: index + 1 })
          .where('id', '=', contractId)
          .execute();
        outcome = { previousTier: from, tier: request.tier, effective: 'next_period', effectiveFromPeriod: index + 1 };
      }

      await recordAudit(trx, {
        contractId,
        actor: request.by,
        action: direction > 0 ? 'tier.upgraded' : 'tier.downgrade_scheduled',
        reason: request.reason,
        details: { result: outcome },
        operationKey: input.operationKey,
        at: now,
      });
      return outcome;
    });
    deps.logger.info({ contractId, ...result, by: request.by }, 'tier changed');
    return result;
  }

  /** Records a new terms version effective from a future period's start. */
  async function amendTerms(input: OperationInput<AmendRequest>): Promise<AmendResult> {
    const { contractId, request } = input;
    const now = new Date(input.now);
    let terms: Terms;
    try {
      terms = parseTerms(request.terms);
    } catch (error) {
      if (error instanceof TermsValidationError) reject(contractId, 'terms', error.message, { issues: error.issues });
      throw error;
    }

    return db.transaction().execute(async (trx) => {
      const contract = await lockSigned(trx, contractId);
      const earlier = await previousResult<AmendResult>(trx, input.operationKey);
      if (earlier) return earlier;

      const { index } = await openPeriodOf(trx, contract, now);
      const versions = await listTermsVersions(trx, contractId);
      const first = versions[0]!.terms;
      const effective = request.effectiveFromPeriod;
      if (!Number.isInteger(effective) || effective <= index) {
        reject(contractId, 'effectiveFromPeriod', `An amendment takes effect from a future period: period ${index} is open, so use ${index + 1} or later (got ${effective}).`);
      }
      if (effective >= terms.termMonths) {
        reject(contractId, 'effectiveFromPeriod', `Period ${effective} is past the amended term of ${terms.termMonths} months.`);
      }
      for (const field of ['startDate', 'timeZone', 'currency'] as const) {
        if (terms[field] !== first[field]) {
          reject(contractId, `terms.${field}`, `An amendment keeps ${field} (${first[field]}); periods and invoices already issued depend on it.`);
        }
      }
      const tierInForce = contract.nextTier ?? contract.currentTier;
      if (!terms.tiers.some((t) => t.name === tierInForce)) {
        reject(contractId, 'terms.tiers', `The amended terms drop tier "${tierInForce}", which the contract is on; keep it or change tier first.`);
      }
      if (versions.some((v) => v.effectiveFromPeriod === effective)) {
        reject(contractId, 'effectiveFromPeriod', `An amendment already takes effect from period ${effective}.`);
      }

      const version = versions.at(-1)!.version + 1;
      await trx
        .insertInto('terms_versions')
        .values({
          contract_id: contractId,
          version,
          effective_from_period: effective,
          terms: JSON.stringify(terms),
          created_by: request.by,
          reason: request.reason,
        })
        .execute();
      const result: AmendResult = { version, effectiveFromPeriod: effective };
      await recordAudit(trx, {
        contractId,
        actor: request.by,
        action: 'terms.amended',
        reason: request.reason,
        details: { result },
        operationKey: input.operationKey,
        at: now,
      });
      return result;
    });
  }

  /** Issues an adjustment grant from now until `expiresAt`. */
  async function grantCredits(input: OperationInput<GrantCreditsRequest>): Promise<GrantCreditsResult> {
    const { contractId, request } = input;
    const now = new Date(input.now);
    if (!DECIMAL_PATTERN.test(request.credits) || !new Exact(request.credits).greaterThan(0)) {
      reject(contractId, 'credits', `credits must be a decimal string greater than 0, such as "5000"; got "${request.credits}".`);
    }
    const expiresAt = new Date(request.expiresAt);
    if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= now.getTime()) {
      reject(contractId, 'expiresAt', `expiresAt must be an instant after now (${now.toISOString()}); got "${request.expiresAt}".`);
    }

    return db.transaction().execute(async (trx) => {
      const contract = await lockSigned(trx, contractId);
      const earlier = await previousResult<GrantCreditsResult>(trx, input.operationKey);
      if (earlier) return earlier;

      const { index, terms } = await openPeriodOf(trx, contract, now);
      const grant: Grant = {
        id: request.grantId ?? `adjustment-${input.operationKey}`,
        kind: 'adjustment',
        credits: new Exact(request.credits).toFixed(),
        validFrom: now.toISOString(),
        expiresAt: expiresAt.toISOString(),
        reason: request.reason,
      };
      const created = await recordGrant(trx, contractId, grant, request.by, index);
      if (!created) reject(contractId, 'grantId', `Grant ${grant.id} already exists on contract ${contractId}.`);

      // Admission counts the grant at once, unless the previous close is still due: its
      // hand-over to this period applies every balance, this grant included.
      const period = await lockOrOpenPeriod(trx, contract, index);
      if (period.admission.previousPeriodClosed) {
        const balances = await grantBalances(trx, contractId, index, periodBounds(terms, index).start);
        await saveAdmission(trx, contractId, applyGrantBalances(period.admission, balances));
      }

      const result: GrantCreditsResult = { grantId: grant.id, credits: grant.credits, validFrom: grant.validFrom, expiresAt: grant.expiresAt };
      await recordAudit(trx, {
        contractId,
        actor: request.by,
        action: 'credits.granted',
        reason: request.reason,
        details: { result },
        operationKey: input.operationKey,
        at: now,
      });
      return result;
    });
  }

  /** Makes the open period the contract's last: its close is the final one. */
  async function terminate(input: OperationInput<TerminateRequest>): Promise<TerminateResult> {
    const { contractId, request } = input;
    const now = new Date(input.now);
    return db.transaction().execute(async (trx) => {
      const contract = await lockSigned(trx, contractId);
      const earlier = await previousResult<TerminateResult>(trx, input.operationKey);
      if (earlier) return earlier;

      const { index, terms } = await openPeriodOf(trx, contract, now);
      if (contract.finalPeriodIndex !== null) {
        reject(contractId, 'contractId', `Contract ${contractId} is already terminated: period ${contract.finalPeriodIndex} is its last.`);
      }
      await trx.updateTable('contracts').set({ final_period_index: index }).where('id', '=', contractId).execute();
      const result: TerminateResult = { finalPeriodIndex: index, endsAt: periodBounds(terms, index).end.toISOString() };
      await recordAudit(trx, {
        contractId,
        actor: request.by,
        action: 'contract.terminated',
        reason: request.reason,
        details: { result },
        operationKey: input.operationKey,
        at: now,
      });
      deps.logger.info({ contractId, ...result, by: request.by }, 'contract terminated');
      return result;
    });
  }

  return { changeTier, amendTerms, grantCredits, terminate };
}
