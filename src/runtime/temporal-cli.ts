import fs from 'node:fs';
import path from 'node:path';
import { cacheDir } from './cache';
import { withLock } from './lock';
import { formatElapsed, type RuntimeLog } from './log';
import { findOnPath, isExecutableFile, OutputTail, runCommand } from './process';
import { GO_MIN_VERSION, TEMPORAL_CLI_PACKAGE, TEMPORAL_CLI_VERSION } from './versions';

const PROGRESS_INTERVAL_MS = 15_000;

/** Path where the pinned Temporal CLI is built, whether or not it exists yet. */
export function cachedTemporalCliPath(): string {
  return path.join(cacheDir(), `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

/**
 * Finds the `temporal` CLI: on PATH, else in the cache, else builds the pinned version into the
 * cache with `go install` (a few minutes on first run, seconds afterwards because Go keeps its
 * module and build caches). Returns undefined when Go is missing or the build fails, so that
 * the caller falls back to the SDK's own download.
 */
export async function ensureTemporalCli(log: RuntimeLog): Promise<string | undefined> {
  const onPath = findOnPath('temporal');
  if (onPath) return onPath;

  const cached = cachedTemporalCliPath();
  if (isExecutableFile(cached)) return cached;

  const go = findOnPath('go');
  if (!go) {
    log.warn(
      `Temporal CLI not found on PATH nor at ${cached}, and Go is not installed to build it. ` +
        `Falling back to the Temporal SDK's download, which needs internet access. ` +
        `To avoid that, set TEMPORAL_ADDRESS to a running Temporal server, ` +
        `install Go ${GO_MIN_VERSION}+ so the CLI can be built, or put \`temporal\` on PATH.`,
    );
    return undefined;
  }

  const lockDir = path.join(cacheDir(), `temporal-cli-${TEMPORAL_CLI_VERSION}.lock`);
  return withLock(lockDir, log, async () => {
    // Another process may have finished the build while this one waited for the lock.
    if (isExecutableFile(cached)) return cached;
    return buildTemporalCli(go, cached, log);
  });
}

async function buildTemporalCli(go: string, target: string, log: RuntimeLog): Promise<string | undefined> {
  const goVersion = await readGoVersion(go);
  if (goVersion && compareVersions(goVersion, GO_MIN_VERSION) < 0) {
    log.warn(
      `Go ${goVersion} is older than the ${GO_MIN_VERSION} that Temporal CLI ${TEMPORAL_CLI_VERSION} needs; ` +
        `go will try to fetch a newer toolchain through the module proxy (GOTOOLCHAIN).`,
    );
  }

  // Build into a fresh folder and rename at the end, so an interrupted build leaves no binary
  // that a later run would mistake for a finished one.
  const finalDir = path.dirname(target);
  removeAbandonedBuilds(finalDir);
  const buildDir = `${finalDir}.build-${process.pid}`;
  fs.mkdirSync(buildDir, { recursive: true });

  const module = `${TEMPORAL_CLI_PACKAGE}@${TEMPORAL_CLI_VERSION}`;
  log.info(
    `Building Temporal CLI ${TEMPORAL_CLI_VERSION} with \`go install ${module}\` into ${finalDir}. ` +
      `This happens once and takes a few minutes (3 to 6 minutes measured on a 2-core machine with empty ` +
      `Go caches); later runs reuse the binary.`,
  );

  const started = Date.now();
  const progress = new GoBuildProgress();
  const tail = new OutputTail(30);
  const timer = setInterval(() => {
    log.info(`  still building Temporal CLI after ${formatElapsed(Date.now() - started)}: ${progress.summary()}`);
  }, PROGRESS_INTERVAL_MS);

  let result;
  try {
    result = await runCommand(go, ['install', '-v', module], {
      env: { ...process.env, GOBIN: buildDir, CGO_ENABLED: '0', GOFLAGS: mergeGoFlags(process.env.GOFLAGS) },
      onLine: (line) => {
        progress.observe(line);
        tail.push(`${line}\n`);
      },
    });
  } finally {
    clearInterval(timer);
  }

  const built = path.join(buildDir, 'temporal');
  if (result.code !== 0 || !isExecutableFile(built)) {
    fs.rmSync(buildDir, { recursive: true, force: true });
    log.warn(
      `Building Temporal CLI failed (go exited with ${result.code ?? result.signal}) after ` +
        `${formatElapsed(Date.now() - started)}. Last output:\n${tail.text()}\n` +
        `Falling back to the Temporal SDK's download. To avoid that, set TEMPORAL_ADDRESS to a running ` +
        `Temporal server, or fix the Go build (Go ${GO_MIN_VERSION}+ and access to the Go module proxy).`,
    );
    return undefined;
  }

  fs.rmSync(finalDir, { recursive: true, force: true });
  fs.renameSync(buildDir, finalDir);
  log.info(`Built Temporal CLI in ${formatElapsed(Date.now() - started)}: ${target}`);
  return target;
}

/**
 * Removes build folders that interrupted builds left beside `finalDir`. Only the lock holder
 * calls this, so no other build is using them.
 */
function removeAbandonedBuilds(finalDir: string): void {
  const parent = path.dirname(finalDir);
  const prefix = `${path.basename(finalDir)}.build-`;
  for (const entry of fs.readdirSync(parent)) {
    if (entry.startsWith(prefix)) fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
}

/** Counts what `go install -v` prints, to show progress without its full output. */
class GoBuildProgress {
  private downloads = 0;
  private packages = 0;
  private last = '';

  observe(line: string): void {
    const trimmed = line.trim();
    if (!trimmed) return;
    if (trimmed.startsWith('go: downloading ')) {
      this.downloads += 1;
      this.last = trimmed.slice('go: '.length);
    } else if (!trimmed.startsWith('go: ') && !trimmed.includes(' ')) {
      // With -v, go prints the import path of each package it compiles, one per line.
      this.packages += 1;
      this.last = `compiled ${trimmed}`;
    }
  }

  summary(): string {
    const parts = [`${this.packages} packages compiled`];
    if (this.downloads > 0) parts.push(`${this.downloads} modules downloaded`);
    if (this.last) parts.push(`last: ${this.last}`);
    return parts.join(', ');
  }
}

async function readGoVersion(go: string): Promise<string | undefined> {
  try {
    const result = await runCommand(go, ['env', 'GOVERSION']);
    const match = /go(\d+\.\d+(?:\.\d+)?)/.exec(result.stdout);
    return match?.[1];
  } catch {
    return undefined;
  }
}

/** Compares dotted version numbers numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Drops -mod=vendor style flags that a user's GOFLAGS may carry and that break `go install pkg@version`. */
function mergeGoFlags(goFlags: string | undefined): string {
  return (goFlags ?? '')
    .split(/\s+/)
    .filter((flag) => flag && !flag.startsWith('-mod='))
    .join(' ');
}
