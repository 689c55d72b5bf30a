import { Router } from 'express';
import { entitlementOf, periodIndexAt, type PeriodAdmissionState } from '../../domain';
import { findContract, listTermsVersions, lockContract, termsInForce } from '../../db/contracts';
import { ContractNotAcceptingUsageError, ingestUsage, type EventAnswer, type IncomingEvent } from '../../db/ingestion';
import { lockOrOpenPeriod } from '../../db/periods';
import { contractWorkflowId, type AlertsRaisedSignal } from '../../workflows/messages';
import type { ApiDeps } from '../app';
import { assertCustomerScope } from '../auth';
import { ROUTES } from '../catalog';
import { conflict, fieldErrorsFromZod, notFound, parseRequestPart, unprocessable } from '../problem';
import { mount } from '../route-spec';
import { ContractIdParams, UsageBody, UsageEventSchema } from '../schemas';

function summarize(answers: readonly EventAnswer[]) {
  const summary = { accepted: 0, deferred: 0, duplicate: 0, rejected: 0 };
  for (const answer of answers) summary[answer.status] += 1;
  return summary;
}

/** Routes for the agent platform: `POST /v1/usage` and `GET /v1/contracts/:id/entitlement`. */
export function usageRouter(deps: ApiDeps): Router {
  const router = Router();

  mount(router, ROUTES.ingestUsage, deps, async (req, res) => {
    const body = parseRequestPart(UsageBody, req.body, 'body');
    const contract = await findContract(deps.db, body.contractId);
    if (!contract) throw notFound(`Contract ${body.contractId} was not found.`);
    assertCustomerScope(req.principal, contract.customerId, body.contractId);

    const answers: EventAnswer[] = new Array(body.events.length);
    const valid: IncomingEvent[] = [];
    const positions: number[] = [];
    body.events.forEach((raw, index) => {
      const parsed = UsageEventSchema.safeParse(raw);
      if (parsed.success) {
        valid.push(parsed.data);
        positions.push(index);
        return;
      }
      const [first] = fieldErrorsFromZod(parsed.error, `events[${index}]`);
      const eventId = typeof (raw as { eventId?: unknown })?.eventId === 'string' ? (raw as { eventId: string }).eventId : '';
      answers[index] = {
        eventId,
        status: 'rejected',
        field: first?.path ?? `events[${index}]`,
        rule: first?.rule ?? 'invalid',
        reason: `${first?.path ?? `events[${index}]`}: ${first?.message ?? 'invalid event'}`,
      };
    });

    if (valid.length > 0) {
      let outcome;
      try {
        outcome = await ingestUsage(deps.db, {
          contractId: body.contractId,
          events: valid,
          arrivedAt: deps.now(),
          closeDelayMs: deps.config.closeDelayMs,
        });
      } catch (error) {
        if (error instanceof ContractNotAcceptingUsageError) {
          if (error.reason === 'not_found') throw notFound(error.message);
          throw conflict(error.message, 'contract-not-signed');
        }
        throw error;
      }
      outcome.answers.forEach((answer, i) => {
        const index = positions[i]!;
        answers[index] = answer.status === 'rejected' ? { ...answer, field: answer.field.replace(/^events\[\d+\]/, `events[${index}]`) } : answer;
      });

      if (outcome.alertKeys.length > 0 || outcome.tierChanges.length > 0) {
        const signal: AlertsRaisedSignal = {
          alertKeys: outcome.alertKeys,
          ...(outcome.tierChanges.length > 0 ? { tier: outcome.tierChanges.at(-1)!.to } : {}),
        };
        // The alerts are stored; if the signal is lost they go out with the next close's delivery.
        await deps.temporal.workflow
          .getHandle(contractWorkflowId(body.contractId))
          .signal('alertsRaised', signal)
          .catch((error: unknown) =>
            deps.logger.warn({ contractId: body.contractId, err: error }, 'failed to signal the contract workflow about new alerts'),
          );
      }
    }

    const summary = summarize(answers);
    // A batch that stores nothing is bad input as a whole, so it gets a 422 problem that
    // still lists each event's result. A batch with any event stored gets a 200.
    if (summary.rejected === answers.length) {
      throw unprocessable(
        `Every event of the batch was rejected (${answers.length}); nothing was stored. Each event's result names its field and rule.`,
        'all-events-rejected',
        answers.flatMap((answer) =>
          answer.status === 'rejected' ? [{ path: `body.${answer.field}`, rule: answer.rule, message: answer.reason }] : [],
        ),
        { contractId: body.contractId, summary, events: answers },
      );
    }
    res.json({ contractId: body.contractId, summary, events: answers });
  });

  mount(router, ROUTES.getEntitlement, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    const contract = await findContract(deps.db, id);
    if (!contract) throw notFound(`Contract ${id} was not found.`);
    assertCustomerScope(req.principal, contract.customerId, id);
    if (contract.status !== 'signed') {
      throw conflict(`Contract ${id} is ${contract.status}; entitlement exists only while it runs.`, 'contract-not-running');
    }

    const now = deps.now();
    // Amendments keep the start date and time zone but may change the term's length, so
    // the latest version decides where the contract ends.
    const latest = (await listTermsVersions(deps.db, id)).at(-1)!.terms;
    const periodIndex = periodIndexAt(latest, now);
    const finalIndex = contract.finalPeriodIndex ?? latest.termMonths - 1;
    if (periodIndex === undefined || periodIndex > finalIndex) {
      throw conflict(`Contract ${id} has no open period at ${now.toISOString()}.`, 'contract-not-running');
    }
    const { terms } = await termsInForce(deps.db, id, periodIndex);
    // A plain read: the row exists once the period has seen usage or its predecessor closed.
    const row = await deps.db
      .selectFrom('periods')
      .select('admission')
      .where('contract_id', '=', id)
      .where('period_index', '=', periodIndex)
      .executeTakeFirst();
    const admission = row
      ? (row.admission as PeriodAdmissionState)
      : (
          await deps.db.transaction().execute(async (trx) => {
            const locked = await lockContract(trx, id);
            return lockOrOpenPeriod(trx, locked!, periodIndex);
          })
        ).admission;
    res.json({ contractId: id, at: now.toISOString(), ...entitlementOf(admission, terms, now) });
  });

  return router;
}
