import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { sleepFor } from '../support/sleep-workflow';
import { timeSkippingEnv } from '../support/temporal';

const THIRTY_DAYS_MS = 30 * 24 * 60 * 60 * 1000;

let env: TestWorkflowEnvironment;
before(async () => {
  env = await timeSkippingEnv();
});
after(async () => {
  await env?.teardown();
});

test('time-skipping env sleeps 30 days quickly', async () => {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'runtime-time-skipping',
    workflowsPath: require.resolve('../support/sleep-workflow'),
  });

  const { workflowTimeMs, wallTimeMs } = await worker.runUntil(async () => {
    // A first workflow loads the workflow bundle into the worker (about 0.6 s here), so the
    // timed run below measures time skipping alone.
    await env.client.workflow.execute(sleepFor, {
      args: ['1 second'],
      taskQueue: 'runtime-time-skipping',
      workflowId: `warm-up-${Date.now()}`,
    });

    const started = Date.now();
    const workflowTimeMs = await env.client.workflow.execute(sleepFor, {
      args: ['30 days'],
      taskQueue: 'runtime-time-skipping',
      workflowId: `sleep-${Date.now()}`,
    });
    return { workflowTimeMs, wallTimeMs: Date.now() - started };
  });

  assert.ok(workflowTimeMs >= THIRTY_DAYS_MS, `workflow time ${workflowTimeMs} ms is less than 30 days`);
  assert.ok(wallTimeMs < 1000, `30 days of workflow time took ${wallTimeMs} ms of wall time`);
});
