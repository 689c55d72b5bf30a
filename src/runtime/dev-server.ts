import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { formatElapsed, type RuntimeLog } from './log';
import { canConnect, OutputTail, sleep, stopChild, trackChild } from './process';
import { ensureTemporalCli } from './temporal-cli';
import { GO_MIN_VERSION } from './versions';

const DEFAULT_PORT = 7233;
const STARTUP_TIMEOUT_MS = 60_000;
const NAMESPACE = 'default';

/**
 * Dynamic configuration that the Temporal SDK core 1.24 also passes to the dev server it starts:
 * workflow updates on, including those that return once accepted, and no server version check,
 * which would call out to the internet.
 */
const DYNAMIC_CONFIG = [
  'frontend.enableUpdateWorkflowExecution=true',
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
  'frontend.enableServerVersionCheck=false',
];

export interface DevServerOptions {
  /** Folder for the server's SQLite file `temporal.db`, so workflows survive a restart. */
  dataDir: string;
  /** gRPC port on 127.0.0.1. Default 7233, the port Temporal's tools use by default. */
  port?: number;
  /** Web UI port. Default `port + 1000` (8233 for the default port). */
  uiPort?: number;
  log: RuntimeLog;
  /** Further `temporal server start-dev` arguments, for example more `--dynamic-config-value` pairs. */
  extraArgs?: string[];
}

export interface DevServer {
  /** gRPC address for TEMPORAL_ADDRESS, as `127.0.0.1:<port>`. */
  address: string;
  uiUrl: string;
  /** Stops the server and waits until its process has exited. */
  stop(): Promise<void>;
}

/**
 * Starts a local Temporal development server (`temporal server start-dev`) with its data in
 * `<dataDir>/temporal.db` and waits until its `default` namespace accepts requests. Uses the
 * CLI from `ensureTemporalCli`; where none can be had, falls back to the SDK's
 * `TestWorkflowEnvironment.createLocal`, which downloads the CLI.
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? DEFAULT_PORT;
  const uiPort = options.uiPort ?? port + 1000;
  const dataDir = path.resolve(options.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const dbFile = path.join(dataDir, 'temporal.db');

  for (const [name, value] of [['port', port], ['UI port', uiPort]] as const) {
    if (await canConnect('127.0.0.1', value)) {
      throw new Error(
        `Cannot start the Temporal dev server: ${name} ${value} on 127.0.0.1 is already in use. ` +
          `Stop the program that uses it, choose another port, or set TEMPORAL_ADDRESS to use a running server.`,
      );
    }
  }

  const cli = await ensureTemporalCli(options.log);
  if (!cli) return startWithSdkDownload({ ...options, port, uiPort, dbFile });
  return startWithCli(cli, { ...options, port, uiPort, dbFile });
}

interface ResolvedOptions extends DevServerOptions {
  port: number;
  uiPort: number;
  dbFile: string;
}

async function startWithCli(cli: string, options: ResolvedOptions): Promise<DevServer> {
  const { log, port, uiPort } = options;
  const address = `127.0.0.1:${port}`;
  const args = [
    'server', 'start-dev',
    '--db-filename', options.dbFile,
    '--port', String(port),
    '--ui-port', String(uiPort),
    '--namespace', NAMESPACE,
    '--ip', '127.0.0.1',
    '--log-format', 'json',
    '--log-level', 'warn',
    ...DYNAMIC_CONFIG.flatMap((value) => ['--dynamic-config-value', value]),
    ...(options.extraArgs ?? []),
  ];

  const started = Date.now();
  const output = new OutputTail(40);
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child, 'SIGTERM');
  let spawnError: Error | undefined;
  child.on('error', (error) => (spawnError = error));
  const onOutput = (chunk: Buffer) => {
    output.push(chunk);
    for (const line of chunk.toString().split('\n')) {
      if (line.includes('"level":"error"') || line.includes('"level":"fatal"')) log.warn(`Temporal dev server: ${line}`);
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);

  // Set once the server is ready; before that, start-up failures are raised instead.
  let running = false;
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await stopChild(child, 'SIGTERM', 15_000);
  };
  child.once('exit', (code, signal) => {
    if (running && !stopping) log.warn(`Temporal dev server exited unexpectedly with ${code ?? signal}. Its last output:\n${output.text()}`);
  });

  const deadline = started + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `The Temporal dev server (${cli}) exited during start-up` +
          `${spawnError ? `: ${spawnError.message}` : ` with ${child.exitCode ?? child.signalCode}`}. ` +
          `Its last output:\n${output.text()}`,
      );
    }
    if (await namespaceIsReady(address)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `The Temporal dev server did not accept requests on ${address} within ${STARTUP_TIMEOUT_MS / 1000} s. ` +
          `Its last output:\n${output.text()}`,
      );
    }
    await sleep(200);
  }

  running = true;
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  log.info(
    `Temporal dev server listens on ${address}, UI at ${uiUrl} ` +
      `(data in ${options.dbFile}, started in ${formatElapsed(Date.now() - started)})`,
  );
  return {
    address,
    uiUrl,
    stop: async () => {
      await stop();
      log.info(`Temporal dev server on ${address} stopped`);
    },
  };
}

/** Returns whether a DescribeNamespace request for the default namespace succeeds at `address`. */
async function namespaceIsReady(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  if (!(await canConnect(host ?? '127.0.0.1', Number(port)))) return false;
  const { Connection } = await import('@temporalio/client');
  let connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2000 });
    await connection.workflowService.describeNamespace({ namespace: NAMESPACE });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function startWithSdkDownload(options: ResolvedOptions): Promise<DevServer> {
  const { log, port, uiPort } = options;
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  log.info(`Starting the Temporal dev server through the SDK's download of the Temporal CLI`);
  let env;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port,
        uiPort,
        namespace: NAMESPACE,
        dbFilename: options.dbFile,
        log: { format: 'json', level: 'warn' },
        // The SDK core adds the same dynamic configuration as DYNAMIC_CONFIG itself.
        extraArgs: options.extraArgs,
      },
    });
  } catch (error) {
    throw new Error(
      `Failed to start the Temporal dev server through the SDK's download: ${(error as Error).message}. ` +
        `Set TEMPORAL_ADDRESS to a running Temporal server, or install Go ${GO_MIN_VERSION}+ so the CLI can be built.`,
    );
  }
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  log.info(`Temporal dev server listens on ${env.address}, UI at ${uiUrl} (data in ${options.dbFile})`);
  return {
    address: env.address,
    uiUrl,
    stop: async () => {
      await env.teardown();
      log.info(`Temporal dev server on ${env.address} stopped`);
    },
  };
}
