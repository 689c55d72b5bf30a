// Runs every benchmark in turn, each in a process of its own, and passes `--quick` on.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseBenchArgs } from './support';

const BENCHMARKS = ['ingest', 'admission', 'close', 'asleep', 'simulate'];

function main(): number {
  const args = parseBenchArgs();
  let failed = 0;
  for (const name of BENCHMARKS) {
    const script = path.join(__dirname, `${name}.ts`);
    const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, ...(args.quick ? ['--quick'] : [])], {
      stdio: 'inherit',
    });
    if (result.status !== 0) {
      failed += 1;
      console.error(`Benchmark ${name} failed with ${result.status ?? result.signal}.`);
    }
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = main();
