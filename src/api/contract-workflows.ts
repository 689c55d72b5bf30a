import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Db } from '../db/connection';
import type { contractWorkflow } from '../workflows/contract';
import { contractWorkflowId } from '../workflows/messages';

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
