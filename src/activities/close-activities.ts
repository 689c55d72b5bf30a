import { closeContractPeriod } from '../db/closing';
import { storeAlerts } from '../db/alerts';
import { findContract, termsInForce } from '../db/contracts';
import { issueInvoice } from '../db/invoices';
import type { PeriodCloseState } from '../db/periods';
import type { ActivityDeps } from './contract-activities';
import { contractNotFound, finalPeriodOf } from './contract-activities';

/** Creates the activities of a period's close; each is idempotent by contract and period. */
export function createCloseActivities(deps: ActivityDeps) {
  const { db } = deps;

  async function closeState(contractId: string, periodIndex: number): Promise<PeriodCloseState> {
    const row = await db
      .selectFrom('periods')
      .select(['close_state', 'status'])
      .where('contract_id', '=', contractId)
      .where('period_index', '=', periodIndex)
      .executeTakeFirst();
    if (!row || row.status !== 'closed' || !row.close_state) {
      throw new Error(`Period ${periodIndex} of contract ${contractId} is not closed yet.`);
    }
    return row.close_state as PeriodCloseState;
  }

  return {
    /** Runs the domain close of a period and records its result, once. */
    async closePeriod(input: { contractId: string; periodIndex: number; closedAt: string }) {
      const contract = await findContract(db, input.contractId);
      if (!contract) contractNotFound(input.contractId);
      const { terms } = await termsInForce(db, input.contractId, input.periodIndex);
      const outcome = await closeContractPeriod(db, {
        ...input,
        finalPeriodIndex: finalPeriodOf(terms, contract),
      });
      const log = deps.logger.child({ contractId: input.contractId, periodIndex: input.periodIndex });
      if (outcome.closedNow) {
        log.info({ charges: outcome.statement.charges, final: outcome.final }, 'period closed');
      } else {
        log.info('period was already closed; nothing changed');
      }
      return { final: outcome.final, total: outcome.statement.charges.total };
    },

    /** Issues the invoices the close called for, dated at the close; an invoice already issued keeps its number. */
    async issueInvoices(input: { contractId: string; periodIndex: number }) {
      const state = await closeState(input.contractId, input.periodIndex);
      const numbers = await db.transaction().execute(async (trx) => {
        const issued: string[] = [];
        for (const draft of state.invoices) issued.push(await issueInvoice(trx, { ...draft, issuedAt: state.closedAt }));
        return issued;
      });
      deps.logger.info({ contractId: input.contractId, periodIndex: input.periodIndex, invoices: numbers }, 'invoices issued');
      return { numbers };
    },

    /**
     * Stores the alerts the close called for as pending (an alert already stored is kept as
     * it is) and returns how many alerts of the contract await delivery.
     */
    async raiseAlerts(input: { contractId: string; periodIndex: number }) {
      const state = await closeState(input.contractId, input.periodIndex);
      const stored = await storeAlerts(db, input.contractId, state.alerts);
      if (stored.length > 0) {
        deps.logger.info({ contractId: input.contractId, periodIndex: input.periodIndex, alerts: stored }, 'alerts raised');
      }
      const pending = await db
        .selectFrom('alerts')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('contract_id', '=', input.contractId)
        .where('status', '<>', 'sent')
        .executeTakeFirstOrThrow();
      return { alertKeys: state.alerts.map((a) => a.key), pendingAlerts: Number(pending.count) };
    },
  };
}
