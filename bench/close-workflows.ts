// Workflows of the close benchmark: the product's contract workflow, and the baseline
// that costs what Temporal alone costs per contract (one start, one no-op activity).
import { proxyActivities } from '@temporalio/workflow';

export { contractWorkflow } from '../src/workflows';

const { benchNoop } = proxyActivities<{ benchNoop(input: { contractId: string }): Promise<void> }>({
  startToCloseTimeout: '1 minute',
});

/** Runs one no-op activity for the contract and completes. */
export async function noopBaselineWorkflow(input: { contractId: string }): Promise<void> {
  await benchNoop(input);
}
