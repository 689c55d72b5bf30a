import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { referenceTerms, signedContract, startApiServer, type ApiServer } from './support';

// How failures of workflow updates map to problem documents, with a stubbed client that
// throws what the Temporal SDK throws.

let api: ApiServer;
let contractId: string;
let releaseTier: () => void = () => undefined;

function rejected(type: string, message: string, details: Record<string, unknown>): never {
  throw new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.create({ message, type, nonRetryable: true, details: [details] }));
}

before(async () => {
  api = await startApiServer({
    updateResults: {
      amend: (request: { effectiveFromPeriod: number; reason: string }) => {
        if (request.reason === 'bad terms') {
          rejected('OperationRejected', 'Invalid terms', { field: 'terms', issues: [{ path: 'tiers[0].pricePerCredit', rule: 'positive', message: 'must be > 0' }] });
        }
        rejected('OperationRejected', 'An amendment takes effect from a future period.', { field: 'effectiveFromPeriod' });
      },
      changeTier: async (request: { tier: string }) => {
        if (request.tier === 'slow') {
          await new Promise<void>((resolve) => {
            releaseTier = resolve;
          });
          return { previousTier: 'growth', tier: 'slow', effective: 'now', effectiveFromPeriod: 0 };
        }
        rejected('TierChangeRejected', 'The contract is already on tier "growth".', { field: 'tier' });
      },
      terminate: () => {
        throw new WorkflowNotFoundError('workflow not found', `contract-${contractId}`, undefined);
      },
      grantCredits: () => {
        throw new WorkflowUpdateRPCTimeoutOrCancelledError('Timed out waiting for update response');
      },
    },
  });
  contractId = await signedContract(api);
});

after(async () => {
  await api?.close();
});

test('refused update is a 422 naming the field', async () => {
  const response = await api.request('POST', `/v1/contracts/${contractId}/amend`, {
    as: 'ops',
    body: { terms: referenceTerms(), effectiveFromPeriod: 1, reason: 'too early' },
  });
  assert.equal(response.status, 422);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(response.body.type, 'urn:trueup:problem:operation-rejected');
  assert.deepEqual(response.body.errors, [{ path: 'body.effectiveFromPeriod', rule: 'OperationRejected', message: 'An amendment takes effect from a future period.' }]);
});

test('refused terms name each field', async () => {
  const response = await api.request('POST', `/v1/contracts/${contractId}/amend`, {
    as: 'ops',
    body: { terms: referenceTerms(), effectiveFromPeriod: 1, reason: 'bad terms' },
  });
  assert.equal(response.status, 422);
  assert.equal(response.body.errors[0].path, 'body.terms.tiers[0].pricePerCredit');
  assert.equal(response.body.errors[0].rule, 'positive');
});

test('validator refusal is a 422', async () => {
  const response = await api.request('POST', `/v1/contracts/${contractId}/tier`, { as: 'ops', body: { tier: 'growth', reason: 'no change' } });
  assert.equal(response.status, 422);
  assert.deepEqual(response.body.errors[0], { path: 'body.tier', rule: 'TierChangeRejected', message: 'The contract is already on tier "growth".' });
});

test('missing workflow is a 409', async () => {
  const response = await api.request('POST', `/v1/contracts/${contractId}/terminate`, { as: 'ops', body: { reason: 'customer asked to end' } });
  assert.equal(response.status, 409);
  assert.equal(response.body.type, 'urn:trueup:problem:contract-not-running');
});

test('update timeout is a 503', async () => {
  const response = await api.request('POST', `/v1/contracts/${contractId}/grants`, {
    as: 'ops',
    body: { credits: '10', expiresAt: '2026-02-20T00:00:00Z', reason: 'goodwill credit' },
    headers: { 'idempotency-key': 'grant-timeout' },
  });
  assert.equal(response.status, 503);
  assert.equal(response.body.type, 'urn:trueup:problem:operation-timeout');
  assert.match(response.body.detail, /retry with the same Idempotency-Key/);
  const stored = await api.db.selectFrom('idempotency_keys').select('idempotency_key').where('idempotency_key', '=', 'grant-timeout').execute();
  assert.deepEqual(stored, [], 'a failed request leaves no stored response');
});

test('repeat during the first request is a 409', async () => {
  const headers = { 'idempotency-key': 'slow-tier' };
  const body = { tier: 'slow', reason: 'waits for the test' };
  const first = api.request('POST', `/v1/contracts/${contractId}/tier`, { as: 'ops', body, headers });
  // Wait until the first request's update is running.
  while (!api.temporalCalls.some((call) => call.kind === 'update' && (call.args[0] as { tier?: string }).tier === 'slow')) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const second = await api.request('POST', `/v1/contracts/${contractId}/tier`, { as: 'ops', body, headers });
  assert.equal(second.status, 409);
  assert.equal(second.body.type, 'urn:trueup:problem:idempotency-request-in-progress');
  assert.equal(second.headers.get('retry-after'), '1');

  releaseTier();
  assert.equal((await first).status, 200);
  const third = await api.request('POST', `/v1/contracts/${contractId}/tier`, { as: 'ops', body, headers });
  assert.equal(third.status, 200);
  assert.equal(third.headers.get('idempotent-replayed'), 'true');
});
