import { createHash, randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcDeadlineError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { parseTerms, TermsValidationError, type ValidationIssue } from '../../domain';
import { findContract } from '../../db/contracts';
import {
  contractWorkflowId,
  type AmendRequest,
  type AmendResult,
  type ChangeTierRequest,
  type ChangeTierResult,
  type GrantCreditsRequest,
  type GrantCreditsResult,
  type TerminateRequest,
  type TerminateResult,
} from '../../workflows/messages';
import type { ApiDeps } from '../app';
import { ROUTES } from '../catalog';
import { Problem, badRequest, conflict, notFound, parseRequestPart, type FieldError } from '../problem';
import { mount } from '../route-spec';
import { AmendBody, ChangeTierBody, ContractIdParams, GrantBody, TerminateBody } from '../schemas';
import { termsErrors } from './contracts';

/** Time a route waits for a workflow update before it responds 503; the update may still complete. */
export const UPDATE_TIMEOUT_MS = 30_000;

/** Refusal fields that mean the contract's state forbids the operation (409), not that the request is wrong (422). */
const STATE_FIELDS = new Set(['contractId', 'grantId']);

// Failure types the workflow and its activities throw; the API cannot import the worker's
// modules, so the names are repeated here.
const OPERATION_REJECTED = 'OperationRejected';
const TIER_CHANGE_REJECTED = 'TierChangeRejected';
const CONTRACT_NOT_FOUND = 'ContractNotFound';

/**
 * Returns the workflow update id of a request. With an `Idempotency-Key` it derives from
 * the API key and the idempotency key, so a retried request is the same update: the
 * workflow returns the first result, and the activity finds it in the audit log by this id.
 */
function updateIdOf(req: Request, name: string, contractId: string): string {
  const key = req.res?.locals.idempotencyKey as string | undefined;
  if (key === undefined) return `${name}-${randomUUID()}`;
  const digest = createHash('sha256').update(`${req.principal!.keyId}\n${key}`).digest('hex').slice(0, 32);
  return `${name}-${contractId}-${digest}`;
}

/** Converts a refused update to a problem naming the field under `body` (or `path.id` for the contract itself). */
function refusalProblem(failure: ApplicationFailure, contractId: string): Problem {
  const details = (failure.details?.[0] ?? {}) as { field?: unknown; issues?: ValidationIssue[] };
  const field = typeof details.field === 'string' ? details.field : 'body';
  const path = field === 'contractId' ? 'path.id' : `body.${field}`;
  const rule = failure.type ?? OPERATION_REJECTED;

  if (field === 'terms' && Array.isArray(details.issues)) {
    const errors = termsErrors(new TermsValidationError(details.issues));
    return new Problem(422, 'operation-rejected', 'Operation refused', failure.message, errors, { contractId });
  }
  const errors: FieldError[] = [{ path, rule, message: failure.message }];
  if (STATE_FIELDS.has(field)) {
    return new Problem(409, 'operation-conflict', 'Conflict', failure.message, errors, { contractId });
  }
  return new Problem(422, 'operation-rejected', 'Operation refused', failure.message, errors, { contractId });
}

/**
 * Runs a workflow update on the contract's workflow and maps its failures to problems:
 * a refusal (an `OperationRejected` or `TierChangeRejected` failure) to 422 or 409
 * naming the field, a missing workflow to 409, and no result within `UPDATE_TIMEOUT_MS`
 * to 503. Anything else is rethrown and becomes a 500.
 */
async function executeUpdate<Result, Request>(deps: ApiDeps, contractId: string, name: string, updateId: string, request: Request): Promise<Result> {
  const handle = deps.temporal.workflow.getHandle(contractWorkflowId(contractId));
  try {
    return await deps.temporal.withDeadline(Date.now() + UPDATE_TIMEOUT_MS, () =>
      handle.executeUpdate<Result, [Request]>(name, { args: [request], updateId }),
    );
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      const cause = error.cause;
      if (cause instanceof ApplicationFailure && (cause.type === OPERATION_REJECTED || cause.type === TIER_CHANGE_REJECTED)) {
        throw refusalProblem(cause, contractId);
      }
      if (cause instanceof ApplicationFailure && cause.type === CONTRACT_NOT_FOUND) {
        throw notFound(`Contract ${contractId} was not found.`);
      }
    }
    if (error instanceof WorkflowNotFoundError) {
      throw conflict(`Contract ${contractId} has no running workflow; it has ended or is not signed yet.`, 'contract-not-running', { contractId });
    }
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(error)) {
      throw new Problem(
        503,
        'operation-timeout',
        'Operation timed out',
        `The contract workflow did not answer within ${UPDATE_TIMEOUT_MS / 1000} seconds. The operation may still complete: retry with the same Idempotency-Key to get its result without doing it twice.`,
        [],
        { contractId },
      );
    }
    throw error;
  }
}

/** Reads the contract and refuses an operation on one that is missing (404) or not signed (409). */
async function requireRunning(deps: ApiDeps, contractId: string): Promise<void> {
  const contract = await findContract(deps.db, contractId);
  if (!contract) throw notFound(`Contract ${contractId} was not found.`);
  if (contract.status !== 'signed') {
    throw conflict(`Contract ${contractId} is ${contract.status}; only a signed, running contract can be changed.`, 'contract-not-running', { contractId });
  }
}

/** Routes of ops' operations on a running contract; each goes through a workflow update, which records who, when and why. */
export function operationsRouter(deps: ApiDeps): Router {
  const router = Router();

  mount(router, ROUTES.amendContract, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    const body = parseRequestPart(AmendBody, req.body, 'body');
    try {
      parseTerms(body.terms);
    } catch (error) {
      if (error instanceof TermsValidationError) throw badRequest(`The amended terms are invalid: ${error.message}`, termsErrors(error));
      throw error;
    }
    await requireRunning(deps, id);
    const request: AmendRequest = { terms: body.terms, effectiveFromPeriod: body.effectiveFromPeriod, by: req.principal!.keyId, reason: body.reason };
    const result = await executeUpdate<AmendResult, AmendRequest>(deps, id, 'amend', updateIdOf(req, 'amend', id), request);
    res.json({ contractId: id, ...result });
  });

  mount(router, ROUTES.terminateContract, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    const body = parseRequestPart(TerminateBody, req.body, 'body');
    await requireRunning(deps, id);
    const request: TerminateRequest = { by: req.principal!.keyId, reason: body.reason };
    const result = await executeUpdate<TerminateResult, TerminateRequest>(deps, id, 'terminate', updateIdOf(req, 'terminate', id), request);
    res.json({ contractId: id, ...result });
  });

  mount(router, ROUTES.changeTier, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    const body = parseRequestPart(ChangeTierBody, req.body, 'body');
    await requireRunning(deps, id);
    const request: ChangeTierRequest = { tier: body.tier, by: req.principal!.keyId, reason: body.reason };
    const result = await executeUpdate<ChangeTierResult, ChangeTierRequest>(deps, id, 'changeTier', updateIdOf(req, 'changeTier', id), request);
    res.json({ contractId: id, ...result });
  });

  mount(router, ROUTES.grantCredits, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    const body = parseRequestPart(GrantBody, req.body, 'body');
    await requireRunning(deps, id);
    const request: GrantCreditsRequest = {
      credits: body.credits,
      expiresAt: new Date(body.expiresAt).toISOString(),
      by: req.principal!.keyId,
      reason: body.reason,
      ...(body.grantId !== undefined ? { grantId: body.grantId } : {}),
    };
    const result = await executeUpdate<GrantCreditsResult, GrantCreditsRequest>(deps, id, 'grantCredits', updateIdOf(req, 'grantCredits', id), request);
    res.status(201).json({ contractId: id, ...result });
  });

  return router;
}
