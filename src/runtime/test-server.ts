import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cacheDir } from './cache';
import { withLock } from './lock';
import { formatElapsed, type RuntimeLog } from './log';
import { findOnPath, freePort, isExecutableFile, OutputTail, runCommand, stopChild, trackChild, waitForPort } from './process';
import { SLF4J_NOP_VERSION, TEST_SERVER_ARTIFACT, TEST_SERVER_GROUP, TEST_SERVER_MAIN_CLASS, TEST_SERVER_VERSION } from './versions';

const PROGRESS_INTERVAL_MS = 15_000;

/**
 * JVM flags that shorten the test server's start-up, which matters because the Temporal SDK
 * core gives the server 5 seconds to accept connections. C1-only compilation and the serial
 * collector start fewer threads and do less work. The class-data sharing archive, which the
 * wrapper adds when it exists, saves loading and verifying the server's classes.
 *
 * Measured time for TestWorkflowEnvironment.createTimeSkipping to return, 3 tries each, on a
 * 2-core machine with OpenJDK 17.0.15. Busy means 8 shell busy loops running beside it.
 *   no flags:              idle 1.0 s,  busy 2 of 3 tries over the 5 s limit
 *   these flags:           idle 0.74 s, busy 2 of 3 tries over the 5 s limit
 *   these flags + archive: idle 0.37 s, busy 1.2 to 1.9 s
 */
const FAST_START_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xss512k', '-XX:-UsePerfData'];

/** Files of the test server's cache entry. */
export function testServerPaths(): { root: string; lib: string; wrapper: string; archive: string } {
  const root = path.join(cacheDir(), `${TEST_SERVER_ARTIFACT}-${TEST_SERVER_VERSION}`);
  return {
    root,
    lib: path.join(root, 'lib'),
    wrapper: path.join(root, 'bin', 'temporal-test-server'),
    archive: path.join(root, 'classes.jsa'),
  };
}

/**
 * Prepares Temporal's Java time-skipping test server in the cache and returns the path of an
 * executable wrapper that takes the same arguments as the server (`<port>`). The first run
 * resolves the jars with Maven and records a class-data sharing archive. Later runs return
 * at once. Returns undefined when Java or Maven is missing or Maven fails, so that the caller
 * falls back to the SDK's own download.
 */
export async function ensureTimeSkippingServer(log: RuntimeLog): Promise<string | undefined> {
  const paths = testServerPaths();
  if (wrapperIsCurrent(paths.wrapper)) return paths.wrapper;

  const java = findOnPath('java');
  if (!java) {
    log.warn(
      `Java is not installed, so the Temporal test server ${TEST_SERVER_VERSION} cannot run from the Maven ` +
        `artifact. Falling back to the Temporal SDK's download, which needs internet access. ` +
        `To avoid that, install a JDK (17 or newer) and Maven.`,
    );
    return undefined;
  }
  const mvn = findOnPath('mvn');
  if (!mvn && !hasJars(paths.lib)) {
    log.warn(
      `Maven is not installed, so the Temporal test server ${TEST_SERVER_VERSION} cannot be resolved from ` +
        `Maven Central. Falling back to the Temporal SDK's download, which needs internet access. ` +
        `To avoid that, install Maven (\`apt-get install maven\`).`,
    );
    return undefined;
  }

  return withLock(`${paths.root}.lock`, log, async () => {
    if (wrapperIsCurrent(paths.wrapper)) return paths.wrapper;
    removePartialFiles(paths.root);

    if (!hasJars(paths.lib)) {
      const resolved = await resolveJars(mvn!, paths.root, paths.lib, log);
      if (!resolved) return undefined;
    }

    const javaPath = fs.realpathSync(java);
    const classpath = listJars(paths.lib).join(':');
    await createClassDataArchive(javaPath, classpath, paths.archive, log);
    writeWrapper(paths.wrapper, javaPath, classpath, paths.archive);
    log.info(`Temporal test server ${TEST_SERVER_VERSION} is ready: ${paths.wrapper}`);
    return paths.wrapper;
  });
}

/**
 * Returns whether the wrapper exists and the JVM that it runs is still installed. After a JDK
 * upgrade or removal the wrapper is written again, and the archive recorded again for the new JVM.
 */
function wrapperIsCurrent(wrapper: string): boolean {
  if (!isExecutableFile(wrapper)) return false;
  const java = /^exec '([^']+)'/m.exec(fs.readFileSync(wrapper, 'utf8'))?.[1];
  return java !== undefined && isExecutableFile(java);
}

/** Removes `*.tmp` files that an interrupted run left; only the lock holder calls this. */
function removePartialFiles(root: string): void {
  for (const dir of [root, path.join(root, 'bin')]) {
    if (!fs.existsSync(dir)) continue;
    for (const entry of fs.readdirSync(dir)) {
      if (entry.endsWith('.tmp')) fs.rmSync(path.join(dir, entry), { force: true });
    }
  }
}

function hasJars(lib: string): boolean {
  return fs.existsSync(path.join(lib, '.complete')) && listJars(lib).length > 0;
}

/** Lists the jars in a fixed order, so the class path matches the one recorded in the archive. */
function listJars(lib: string): string[] {
  if (!fs.existsSync(lib)) return [];
  return fs
    .readdirSync(lib)
    .filter((name) => name.endsWith('.jar'))
    .sort()
    .map((name) => path.join(lib, name));
}

function pomXml(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by trueup to resolve Temporal's test server and its runtime dependencies. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.trueup.runtime</groupId>
  <artifactId>temporal-test-server-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>${TEST_SERVER_GROUP}</groupId>
      <artifactId>${TEST_SERVER_ARTIFACT}</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>${SLF4J_NOP_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

async function resolveJars(mvn: string, root: string, lib: string, log: RuntimeLog): Promise<boolean> {
  fs.mkdirSync(root, { recursive: true });
  const pom = path.join(root, 'pom.xml');
  fs.writeFileSync(pom, pomXml());
  fs.rmSync(lib, { recursive: true, force: true });

  const artifact = `${TEST_SERVER_GROUP}:${TEST_SERVER_ARTIFACT}:${TEST_SERVER_VERSION}`;
  log.info(`Resolving ${artifact} and its dependencies with Maven into ${lib} (once; usually under a minute).`);
  const started = Date.now();
  const tail = new OutputTail(30);
  const timer = setInterval(() => {
    log.info(`  still resolving ${artifact} after ${formatElapsed(Date.now() - started)}`);
  }, PROGRESS_INTERVAL_MS);

  let result;
  try {
    result = await runCommand(
      mvn,
      ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'],
      { cwd: root, onLine: (line) => tail.push(`${line}\n`) },
    );
  } finally {
    clearInterval(timer);
  }

  if (result.code !== 0 || listJars(lib).length === 0) {
    log.warn(
      `Maven failed to resolve ${artifact} (exit ${result.code ?? result.signal}). Last output:\n${tail.text()}\n` +
        `Falling back to the Temporal SDK's download. Check that Maven Central is reachable ` +
        `(or that ~/.m2/settings.xml points to a mirror of it).`,
    );
    return false;
  }
  fs.writeFileSync(path.join(lib, '.complete'), `${artifact}\n`);
  log.info(`Resolved ${listJars(lib).length} jars in ${formatElapsed(Date.now() - started)}.`);
  return true;
}

/**
 * Starts the server once with -XX:ArchiveClassesAtExit so the JVM records the classes it loads
 * in a class-data sharing archive, which later starts map instead of loading. The archive
 * is tied to this JVM build and class path; a JVM that cannot use it runs without it.
 * A failure here costs only start-up time, so it is logged and not raised.
 */
async function createClassDataArchive(java: string, classpath: string, archive: string, log: RuntimeLog): Promise<void> {
  const started = Date.now();
  const partial = `${archive}.${process.pid}.tmp`;
  fs.rmSync(partial, { force: true });
  const port = await freePort();
  const tail = new OutputTail(20);
  const child = spawn(
    java,
    [...FAST_START_FLAGS, `-XX:ArchiveClassesAtExit=${partial}`, '-cp', classpath, TEST_SERVER_MAIN_CLASS, String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  trackChild(child, 'SIGTERM');
  child.stdout.on('data', (chunk: Buffer) => tail.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => tail.push(chunk));

  const listening = await waitForPort('127.0.0.1', port, 60_000);
  if (listening) {
    // A first client call loads the gRPC request path too, which the SDK uses at every start.
    await warmUp(port).catch(() => undefined);
  }
  // The JVM writes the archive while it exits after SIGTERM. A JVM that had to be killed may
  // have left a truncated archive, and mapping one crashes the JVM with SIGBUS.
  await stopChild(child, 'SIGTERM', 60_000);
  const exitedNormally = child.signalCode === null;

  if (listening && exitedNormally && fs.existsSync(partial) && (await archiveIsUsable(java, classpath, partial))) {
    fs.renameSync(partial, archive);
    log.info(`Recorded a class-data sharing archive for the test server in ${formatElapsed(Date.now() - started)}.`);
  } else {
    fs.rmSync(partial, { force: true });
    log.warn(`Could not record a class-data sharing archive for the test server; it will start without one. Output:\n${tail.text()}`);
  }
}

/** Checks that the JVM maps the archive: with -Xshare:on it exits with an error when it cannot. */
async function archiveIsUsable(java: string, classpath: string, archive: string): Promise<boolean> {
  const result = await runCommand(java, [...FAST_START_FLAGS, '-Xshare:on', `-XX:SharedArchiveFile=${archive}`, '-cp', classpath, '-version']);
  return result.code === 0;
}

async function warmUp(port: number): Promise<void> {
  const { Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 10_000 });
  try {
    await connection.workflowService.getSystemInfo({});
  } finally {
    await connection.close();
  }
}

/**
 * Writes the wrapper that the SDK starts. The class path goes into a JVM argument file beside
 * it, because 40 absolute jar paths would make the script unreadable.
 */
function writeWrapper(wrapper: string, java: string, classpath: string, archive: string): void {
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const argFile = path.join(path.dirname(archive), 'classpath.args');
  writeAtomically(argFile, `-cp "${classpath}"\n`, 0o644);

  const flags = FAST_START_FLAGS.join(' ');
  const script = `#!/bin/sh
# Generated by trueup: starts Temporal's Java test server ${TEST_SERVER_VERSION} with flags that
# shorten JVM start-up. Arguments are the server's own: <port> [--enable-time-skipping].
# -Xshare:auto makes the JVM run without the class-data sharing archive when it cannot use it.
archive=${quote(archive)}
if [ -f "$archive" ]; then
  exec ${quote(java)} ${flags} -Xshare:auto -XX:SharedArchiveFile="$archive" -Xlog:cds=off -Xlog:cds+dynamic=off \\
    @${quote(argFile)} ${TEST_SERVER_MAIN_CLASS} "$@"
fi
exec ${quote(java)} ${flags} @${quote(argFile)} ${TEST_SERVER_MAIN_CLASS} "$@"
`;
  writeAtomically(wrapper, script, 0o755);
}

function writeAtomically(file: string, content: string, mode: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(partial, content, { mode });
  fs.renameSync(partial, file);
}
