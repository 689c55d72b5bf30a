import { Router } from 'express';
import { parseDraftTerms, parseTerms, reviewTerms, TermsValidationError, type DraftTerms } from '../../domain';
import { createDraft, findContract, listContracts, listTermsVersions, replaceDraftTerms } from '../../db/contracts';
import { signContract } from '../../db/signing';
import { describeContract } from '../../db/contract-view';
import type { ApiDeps } from '../app';
import { assertCustomerScope } from '../auth';
import { ROUTES } from '../catalog';
import { queryLifecycle, startContractWorkflow } from '../contract-workflows';
import { Problem, badRequest, conflict, notFound, parseRequestPart, unprocessable, type FieldError } from '../problem';
import { mount } from '../route-spec';
import { ContractIdParams, ContractListQuery, DraftBody, SignBody } from '../schemas';

/** Converts the domain's terms issues to field errors under `body.terms`. */
export function termsErrors(error: TermsValidationError): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path ? `body.terms.${issue.path}`.replace('.[', '[') : 'body.terms',
    rule: issue.rule,
    message: issue.message,
  }));
}

function parseDraft(terms: unknown): DraftTerms {
  try {
    return parseDraftTerms(terms);
  } catch (error) {
    if (error instanceof TermsValidationError) {
      throw badRequest(`The terms are invalid: ${error.message}`, termsErrors(error));
    }
    throw error;
  }
}

/** Contract routes under `/v1`: drafts, review, signing and reads. */
export function contractsRouter(deps: ApiDeps): Router {
  const router = Router();

  mount(router, ROUTES.createContract, deps, async (req, res) => {
    const body = parseRequestPart(DraftBody, req.body, 'body');
    const terms = parseDraft(body.terms);
    const id = await createDraft(deps.db, terms, req.principal!.keyId);
    deps.logger.info({ contractId: id, by: req.principal!.keyId }, 'draft contract created');
    res.status(201).location(`/v1/contracts/${id}`).json(await describeContract(deps.db, id, deps.now()));
  });

  mount(router, ROUTES.listContracts, deps, async (req, res) => {
    const query = parseRequestPart(ContractListQuery, req.query, 'query');
    const contracts = await listContracts(deps.db, query);
    res.json({ contracts, next: contracts.length === query.limit ? contracts.at(-1)!.id : null });
  });

  mount(router, ROUTES.getContract, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    const contract = await findContract(deps.db, id);
    if (!contract) throw notFound(`Contract ${id} was not found.`);
    assertCustomerScope(req.principal, contract.customerId, id);
    const [view, lifecycle] = await Promise.all([
      describeContract(deps.db, id, deps.now()),
      contract.status === 'draft' ? null : queryLifecycle(deps.temporal, id, deps.logger),
    ]);
    res.json({ ...view, lifecycle });
  });

  mount(router, ROUTES.replaceTerms, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    const body = parseRequestPart(DraftBody, req.body, 'body');
    const terms = parseDraft(body.terms);
    const contract = await findContract(deps.db, id);
    if (!contract) throw notFound(`Contract ${id} was not found.`);
    if (!(await replaceDraftTerms(deps.db, id, terms, req.principal!.keyId))) {
      throw conflict(`Contract ${id} is ${contract.status}; only a draft's terms can be edited. Amend a signed contract instead.`, 'not-a-draft');
    }
    res.json(await describeContract(deps.db, id, deps.now()));
  });

  mount(router, ROUTES.reviewContract, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    const versions = await listTermsVersions(deps.db, id);
    const latest = versions.at(-1);
    if (!latest) throw notFound(`Contract ${id} was not found.`);
    res.json({ contractId: id, version: latest.version, ...reviewTerms(latest.terms) });
  });

  mount(router, ROUTES.signContract, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    const body = parseRequestPart(SignBody, req.body ?? {}, 'body');
    const principal = req.principal!;
    if (body.override && principal.role !== 'admin') {
      throw new Problem(
        403,
        'forbidden',
        'Forbidden',
        'Only an approver (an admin key) may override red flags when signing.',
      );
    }

    const contract = await findContract(deps.db, id);
    if (!contract) throw notFound(`Contract ${id} was not found.`);
    if (contract.status !== 'draft') {
      throw conflict(`Contract ${id} is already ${contract.status}; a contract is signed once.`, 'already-signed');
    }

    const versions = await listTermsVersions(deps.db, id);
    let terms;
    try {
      terms = parseTerms(versions[0]!.terms);
    } catch (error) {
      if (error instanceof TermsValidationError) {
        // The draft's stored terms are at fault, not this request's body: paths start at `terms`.
        const errors = termsErrors(error).map((e) => ({ ...e, path: e.path.replace(/^body\./, '') }));
        throw unprocessable(
          `The draft's terms cannot be signed, even with an override: ${error.message}. Fix them with PUT /v1/contracts/${id}/terms.`,
          'invalid-terms',
          errors,
        );
      }
      throw error;
    }
    const review = reviewTerms(terms);
    if (review.redFlags.length > 0 && !body.override) {
      throw unprocessable(
        `The terms have ${review.redFlags.length} red flag(s): ${review.redFlags.map((f) => f.code).join(', ')}. An approver must sign with an override and a reason.`,
        'red-flags',
        review.redFlags.map((f) => ({ path: `terms.${f.field}`, rule: f.code, message: f.message })),
        { redFlags: review.redFlags, warnings: review.warnings },
      );
    }

    const signed = await signContract(deps.db, {
      contractId: id,
      terms,
      by: principal.keyId,
      at: deps.now(),
      override: body.override
        ? { by: principal.keyId, reason: body.override.reason, redFlags: review.redFlags.map((f) => f.code) }
        : undefined,
    });
    if (!signed) throw conflict(`Contract ${id} is already signed; a contract is signed once.`, 'already-signed');

    await startContractWorkflow(deps.temporal, deps.config.taskQueue, id);
    deps.logger.info({ contractId: id, by: principal.keyId }, 'contract signed and its workflow started');
    res.json(await describeContract(deps.db, id, deps.now()));
  });

  return router;
}
