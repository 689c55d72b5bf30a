import { sleep } from '@temporalio/workflow';

/**
 * Sleeps for `duration` (milliseconds or an `ms`-style string such as '30 days') and returns
 * the workflow time that passed, in milliseconds. Used to check that time skipping works.
 */
export async function sleepFor(duration: string | number): Promise<number> {
  const started = Date.now();
  await sleep(duration);
  return Date.now() - started;
}
