// Benchmark of the worker's memory with many contracts asleep: each contract's workflow
// has loaded its schedule and waits on the timer of its first close, a month away.
import v8 from 'node:v8';
import { contractWorkflowId } from '../src/workflows/messages';
import { firstOfMonth } from './contracts';
import { fmt, parseBenchArgs, printContext, printTable } from './support';
import { forEachConcurrently, signContracts, startWorkflowBench, TASK_QUEUE, waitForIdle, waitUntil } from './temporal';

const MiB = 1024 * 1024;

function memoryNow(): NodeJS.MemoryUsage {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage();
}

async function main(): Promise<void> {
  const args = parseBenchArgs();
  printContext('Asleep: worker memory with contracts waiting on their close timers', args);
  const count = args.quick ? 300 : 10_000;
  if (!(globalThis as { gc?: unknown }).gc) console.log('Run with node --expose-gc for heap figures after a full garbage collection.\n');

  const bench = await startWorkflowBench();
  try {
    const { db, client, progress } = bench;
    const signingStarted = performance.now();
    const ids = await signContracts(db, count, firstOfMonth(new Date(), 0), 12, 'asleep');
    const signingSeconds = (performance.now() - signingStarted) / 1000;

    const beforeWorker = memoryNow();
    const worker = await bench.startWorker();
    const idleWorker = memoryNow();

    const started = performance.now();
    await forEachConcurrently(ids, 16, async (contractId) => {
      await client.workflow.start('contractWorkflow', {
        workflowId: contractWorkflowId(contractId),
        taskQueue: TASK_QUEUE,
        args: [{ contractId, periodIndex: 0 }],
      });
    });
    await waitUntil(() => ids.every((id) => progress.asleep.has(id)), 900_000, `${count} workflows to fall asleep`);
    await waitForIdle(worker);
    const startSeconds = (performance.now() - started) / 1000;
    const asleep = memoryNow();
    const status = worker.getStatus();

    console.log(
      `${fmt(count)} contracts signed in ${fmt(signingSeconds, 1)} s; their workflows started (sixteen starts in flight) and asleep ` +
        `in ${fmt(startSeconds, 1)} s, ${fmt(count / startSeconds, 1)} a second. Memory of the benchmark process, which runs the ` +
        `worker, the client and the database pool; heap figures after a full garbage collection and for the main thread only ` +
        `(workflows run in a worker thread, whose memory shows in RSS).\n`,
    );
    const row = (when: string, memory: NodeJS.MemoryUsage) => ({
      when,
      'RSS MiB': fmt(memory.rss / MiB, 1),
      'heap used MiB': fmt(memory.heapUsed / MiB, 1),
      'heap total MiB': fmt(memory.heapTotal / MiB, 1),
      'external MiB': fmt(memory.external / MiB, 1),
    });
    printTable([row('before the worker started', beforeWorker), row('worker running, no workflow', idleWorker), row(`${fmt(count)} asleep`, asleep)]);

    const { options } = worker;
    printTable([
      {
        'RSS KiB per asleep contract': fmt((asleep.rss - idleWorker.rss) / 1024 / count, 1),
        'cached workflows': fmt(status.numCachedWorkflows),
        'maxCachedWorkflows (default)': fmt(options.maxCachedWorkflows),
        'sticky schedule-to-start timeout ms': fmt(options.stickyQueueScheduleToStartTimeoutMs),
        reuseV8Context: String(options.reuseV8Context),
        'V8 heap limit MiB': fmt(v8.getHeapStatistics().heap_size_limit / MiB),
      },
    ]);
  } finally {
    await bench.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
