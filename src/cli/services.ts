import { loadConfig, type Config } from '../config';
import { createLogger } from '../logger';
import { resolveDatabaseUrl } from './database-url';
import {
  Stack,
  listenApi,
  openDatabase,
  openMailer,
  openTemporalClient,
  reconcileWorkflows,
  runWorkerInBackground,
  stopOnSignal,
} from './stack';

function requireSetting(value: string | undefined, variable: string, command: string): string {
  if (value) return value;
  throw new Error(`${variable} is not set; \`trueup ${command}\` connects to an existing service (use \`trueup start\` for the embedded ones).`);
}

async function runService(command: string, body: (config: Config, stack: Stack) => Promise<void>): Promise<number> {
  const config = loadConfig();
  const stack = new Stack(createLogger(config.logLevel, `trueup-${command}`));
  const stopped = stopOnSignal(stack);
  try {
    await body(config, stack);
  } catch (error) {
    stack.logger.error({ err: error }, `${command} failed to start`);
    await stack.stop();
    return 1;
  }
  await stopped;
  return 0;
}

/** `trueup api`: the HTTP API alone, for a deployment. */
export function runApi(): Promise<number> {
  return runService('api', async (config, stack) => {
    const db = await openDatabase(requireSetting(config.databaseUrl, 'DATABASE_URL', 'api'), stack);
    const address = requireSetting(config.temporalAddress, 'TEMPORAL_ADDRESS', 'api');
    const temporal = await openTemporalClient(config, address, stack);
    await listenApi(config, db, temporal, stack);
    await reconcileWorkflows(config, db, temporal, stack.logger);
    stack.logger.info({ host: config.apiHost, port: config.apiPort }, 'api listening');
  });
}

/** `trueup worker`: the Temporal worker alone, for a deployment. */
export function runWorker(): Promise<number> {
  return runService('worker', async (config, stack) => {
    const db = await openDatabase(requireSetting(config.databaseUrl, 'DATABASE_URL', 'worker'), stack);
    const address = requireSetting(config.temporalAddress, 'TEMPORAL_ADDRESS', 'worker');
    const mailer = openMailer(config, stack);
    await runWorkerInBackground(config, address, db, mailer, stack);
    stack.logger.info({ taskQueue: config.taskQueue, email: mailer.destination }, 'worker running');
  });
}

/** `trueup migrate`: applies pending migrations to DATABASE_URL, or to the embedded PostgreSQL. */
export async function runMigrate(): Promise<number> {
  const config = loadConfig();
  const stack = new Stack(createLogger(config.logLevel, 'trueup-migrate'));
  try {
    await openDatabase(await resolveDatabaseUrl(config, stack), stack);
    return 0;
  } finally {
    await stack.stop();
  }
}
