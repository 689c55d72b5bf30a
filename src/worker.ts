import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Db } from './db/connection';
import { createContractActivities } from './activities/contract-activities';
import type { Mailer } from './activities/mailer';

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Db;
  mailer: Mailer;
  closeDelayMs: number;
  publicUrl: string;
  logger: Logger;
  /** A pre-built workflow bundle (tests build it once); otherwise the sources are bundled. */
  workflowBundle?: WorkflowBundleOption;
  /** Workflow runs kept in the worker's sticky cache; the SDK's default when absent. */
  maxCachedWorkflows?: number;
}

/** Creates the Temporal worker of the contract task queue: the contract workflow and its activities. */
export async function createContractWorker(deps: WorkerDeps): Promise<Worker> {
  const activities = createContractActivities({
    db: deps.db,
    mailer: deps.mailer,
    closeDelayMs: deps.closeDelayMs,
    publicUrl: deps.publicUrl,
    logger: deps.logger,
  });
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath: require.resolve('./workflows') }),
    activities,
    ...(deps.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: deps.maxCachedWorkflows } : {}),
  });
}
