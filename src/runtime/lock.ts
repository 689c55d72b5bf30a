import fs from 'node:fs';
import path from 'node:path';
import type { RuntimeLog } from './log';
import { isProcessAlive, sleep } from './process';

/**
 * Runs `task` while holding a lock folder, so two processes never build the same cache entry
 * at once. A lock left by a process that no longer runs is taken over. Waits up to
 * `timeoutMs` for another holder before failing.
 */
export async function withLock<T>(
  lockDir: string,
  log: RuntimeLog,
  task: () => Promise<T>,
  timeoutMs = 20 * 60_000,
): Promise<T> {
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  const ownerFile = path.join(lockDir, 'pid');
  const deadline = Date.now() + timeoutMs;
  let reported = false;

  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(ownerFile, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }

    const owner = readOwner(ownerFile);
    // A lock folder without a pid file is one that its owner is still creating, unless it is
    // older than a few seconds: then its owner died between the two steps.
    const abandoned = owner === undefined ? ageMs(lockDir) > 10_000 : !isProcessAlive(owner);
    if (abandoned) {
      fs.rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for lock ${lockDir} held by process ${owner ?? 'unknown'}.`);
    }
    if (!reported) {
      log.info(`Waiting for lock ${lockDir}, held by process ${owner ?? 'unknown'}`);
      reported = true;
    }
    await sleep(500);
  }

  try {
    return await task();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function readOwner(ownerFile: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(ownerFile, 'utf8'), 10);
    return Number.isFinite(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
