import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Db } from '../db/connection';
import type { contractWorkflow } from '../workflows/contract';
import { contractWorkflowId, type LifecycleState } from '../workflows/messages';

/**
 * Starts the contract's workflow at period 0. The workflow id is the contract's, and a
 * closed workflow id is never reused, so a second start never makes a second workflow.
 * Returns false when the workflow already exists.
 */
export async function startContractWorkflow(temporal: Client, taskQueue: string, contractId: string): Promise<boolean> {
  try {
    await temporal.workflow.start<typeof contractWorkflow>('contractWorkflow', {
      workflowId: contractWorkflowId(contractId),
      taskQueue,
      args: [{ contractId, periodIndex: 0 }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
    return true;
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw error;
  }
}

/** Starts the workflow of each signed contract that lacks one; returns the contract ids started. */
export async function startSignedContractWorkflows(db: Db, temporal: Client, taskQueue: string): Promise<string[]> {
  const signed = await db.selectFrom('contracts').select('id').where('status', '=', 'signed').execute();
  const started: string[] = [];
  for (const { id } of signed) {
    if (await startContractWorkflow(temporal, taskQueue, id)) started.push(id);
  }
  return started;
}

/** How long a contract read waits for the workflow's lifecycle query before leaving it out. */
export const LIFECYCLE_QUERY_TIMEOUT_MS = 2_000;

/**
 * Returns the contract workflow's `lifecycle` query result, or null when the workflow
 * does not exist, has no worker to run the query, or does not respond within
 * `LIFECYCLE_QUERY_TIMEOUT_MS`: a contract read never fails for lack of it.
 */
export async function queryLifecycle(temporal: Client, contractId: string, logger: Logger): Promise<LifecycleState | null> {
  try {
    const handle = temporal.workflow.getHandle(contractWorkflowId(contractId));
    return await temporal.withDeadline(Date.now() + LIFECYCLE_QUERY_TIMEOUT_MS, () => handle.query<LifecycleState>('lifecycle'));
  } catch (error) {
    logger.debug({ contractId, errorName: (error as Error)?.name, errorMessage: (error as Error)?.message }, 'lifecycle query failed');
    return null;
  }
}
