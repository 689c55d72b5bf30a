import path from 'node:path';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { startEmbeddedPostgres } from '../runtime/postgres';
import { startTemporalDevServer } from '../runtime/dev-server';
import {
  Stack,
  ensureFirstAdminKey,
  listenApi,
  openDatabase,
  openMailer,
  openTemporalClient,
  reconcileWorkflows,
  runWorkerInBackground,
  stopOnSignal,
} from './stack';

const HELP = `Usage: trueup start

Runs the whole product in one process: PostgreSQL (embedded, data in TRUEUP_DATA_DIR,
default .data/, unless DATABASE_URL is set), a Temporal dev server (unless
TEMPORAL_ADDRESS is set), the worker and the HTTP API. Ctrl-C stops all of them.
Settings are environment variables; see docs/configuration.md.
`;

/** Starts every part, prints where each listens, and runs until Ctrl-C or SIGTERM. */
export async function runStart(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }

  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const stack = new Stack(logger);
  const stopped = stopOnSignal(stack);
  const runtimeLog = { info: (m: string) => logger.info(m), warn: (m: string) => logger.warn(m) };

  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const postgres = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'postgres'),
        port: config.postgresPort,
        log: runtimeLog,
      });
      stack.add('postgresql', postgres.stop);
      databaseUrl = postgres.url;
    }
    const db = await openDatabase(databaseUrl, stack);

    let temporalAddress = config.temporalAddress;
    let temporalUi: string | undefined;
    if (!temporalAddress) {
      const server = await startTemporalDevServer({
        dataDir: config.dataDir,
        port: config.temporalPort,
        uiPort: config.temporalUiPort,
        log: runtimeLog,
      });
      stack.add('temporal dev server', server.stop);
      temporalAddress = server.address;
      temporalUi = server.uiUrl;
    }
    const temporal = await openTemporalClient(config, temporalAddress, stack);
    const mailer = openMailer(config, stack);
    await runWorkerInBackground(config, temporalAddress, db, mailer, stack);
    await listenApi(config, db, temporal, stack);
    await reconcileWorkflows(config, db, temporal, logger);
    const adminKeyFile = await ensureFirstAdminKey(config, db);

    const api = `http://${config.apiHost}:${config.apiPort}`;
    process.stdout.write(
      [
        '',
        'trueup is running. Ctrl-C stops it.',
        `  API:          ${api}/v1`,
        `  API docs:     ${api}/docs`,
        `  Temporal:     ${temporalAddress}${temporalUi ? `  (UI: ${temporalUi})` : ''}`,
        `  PostgreSQL:   ${config.databaseUrl ? 'DATABASE_URL' : path.join(config.dataDir, 'postgres')}`,
        `  Email:        ${mailer.destination}`,
        adminKeyFile ? `  Admin key:    ${adminKeyFile}` : '  Admin key:    create one with `trueup keys create --role admin`',
        '',
      ].join('\n') + '\n',
    );
  } catch (error) {
    logger.error({ err: error }, 'start failed');
    await stack.stop();
    return 1;
  }

  await stopped;
  return 0;
}
