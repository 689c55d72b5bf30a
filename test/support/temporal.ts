import { TestWorkflowEnvironment } from '@temporalio/testing';
import { quietLog } from '../../src/runtime/log';
import { ensureTemporalCli } from '../../src/runtime/temporal-cli';
import { ensureTimeSkippingServer } from '../../src/runtime/test-server';

/**
 * Starts Temporal's Java time-skipping test server through the SDK. The server comes from
 * `ensureTimeSkippingServer` (the SDK's download where Java or Maven is missing). The SDK core
 * allows the server 5 seconds to accept connections, which a JVM on a busy machine can miss,
 * so a failed start is tried once more. Call `teardown()` when done.
 */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const executable = await ensureTimeSkippingServer(quietLog);
  const options = executable ? { server: { executable: { type: 'existing-path' as const, path: executable } } } : {};
  try {
    return await TestWorkflowEnvironment.createTimeSkipping(options);
  } catch (error) {
    quietLog.warn(`The time-skipping test server failed to start, trying once more: ${(error as Error).message}`);
    return TestWorkflowEnvironment.createTimeSkipping(options);
  }
}

/**
 * Starts a real Temporal dev server (`temporal server start-dev`, in memory, no UI) on a free
 * port, for tests that need features the time-skipping server lacks. The binary comes from
 * `ensureTemporalCli` (the SDK's download where none can be had). Call `teardown()` when done.
 */
export async function localEnv(extraArgs: string[] = []): Promise<TestWorkflowEnvironment> {
  const executable = await ensureTemporalCli(quietLog);
  return TestWorkflowEnvironment.createLocal({
    server: {
      ...(executable ? { executable: { type: 'existing-path' as const, path: executable } } : {}),
      ip: '127.0.0.1',
      extraArgs,
    },
  });
}
