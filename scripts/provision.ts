// Prepares the programs that the dev server and the Temporal tests need, so that later runs
// start in seconds: the Temporal CLI (built once with Go) and the Java time-skipping test
// server (resolved once with Maven). Run with `npm run provision`.
//
// Exits with 1 when either cannot be prepared, because the SDK's download that the code then
// falls back to needs internet access. `--allow-download` accepts that fallback instead.
import { runCommand } from '../src/runtime/process';
import { consoleLog, formatElapsed } from '../src/runtime/log';
import { ensureTemporalCli } from '../src/runtime/temporal-cli';
import { ensureTimeSkippingServer } from '../src/runtime/test-server';
import { cacheDir } from '../src/runtime/cache';

async function main(): Promise<number> {
  const allowDownload = process.argv.includes('--allow-download');
  const started = Date.now();
  consoleLog.info(`Provisioning Temporal tools in ${cacheDir()} (set TRUEUP_CACHE_DIR to change)`);

  const cli = await ensureTemporalCli(consoleLog);
  if (cli) {
    const version = await runCommand(cli, ['--version']);
    consoleLog.info(`Temporal CLI: ${cli} (${version.stdout.trim() || `exit ${version.code}`})`);
  }

  const testServer = await ensureTimeSkippingServer(consoleLog);
  if (testServer) consoleLog.info(`Temporal test server: ${testServer}`);

  consoleLog.info(`Provisioning finished in ${formatElapsed(Date.now() - started)}`);
  if ((cli && testServer) || allowDownload) return 0;
  const missing: string[] = [];
  if (!cli) missing.push('Temporal CLI');
  if (!testServer) missing.push('Temporal test server');
  consoleLog.warn(
    `Missing: ${missing.join(' and ')}. See the messages above for what to install, ` +
      'or pass --allow-download to rely on the SDK download.',
  );
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    consoleLog.warn(`Provisioning failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
