import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Keeps the last lines written to a stream, for error messages about a failed program. */
export class OutputTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly maxLines = 40) {}

  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
  }

  clear(): void {
    this.lines.length = 0;
    this.partial = '';
  }

  text(): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.join('\n');
  }

  private add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }
}

/** Returns the absolute path of `name` found on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutableFile(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion and collects its output. `onLine` receives each stdout and
 * stderr line as it arrives. Rejects only when the program cannot be started.
 */
export function runCommand(
  command: string,
  args: string[],
  options: SpawnOptions & { onLine?: (line: string) => void } = {},
): Promise<CommandResult> {
  const { onLine, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child, 'SIGTERM');
    let stdout = '';
    let stderr = '';
    const lineSplitter = (append: (text: string) => void) => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = chunk.toString();
        append(text);
        if (!onLine) return;
        const parts = (partial + text).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) onLine(line);
      };
    };
    child.stdout?.on('data', lineSplitter((text) => (stdout += text)));
    child.stderr?.on('data', lineSplitter((text) => (stderr += text)));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Asks the kernel for a free TCP port on 127.0.0.1. Another process may take it before use. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true once a TCP connection to host:port succeeds, false when `timeoutMs` passes first. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(host, port)) return true;
    await sleep(100);
  }
  return false;
}

export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Sends `signal` to the child and waits for it to exit, then sends SIGKILL if it is still
 * running after `timeoutMs`.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

// Children that must not outlive this process, with the signal that stops each one cleanly.
const trackedChildren = new Map<ChildProcess, NodeJS.Signals>();
let exitHooksInstalled = false;

/**
 * Registers a child process to be stopped when this process exits or receives SIGINT, SIGTERM
 * or SIGHUP. On a signal with no other listener, the children are stopped and the process
 * exits. When another listener exists, that listener decides when to exit, and the `exit`
 * hook then signals every child that is left.
 */
export function trackChild(child: ChildProcess, stopSignal: NodeJS.Signals): void {
  installExitHooks();
  trackedChildren.set(child, stopSignal);
  child.once('exit', () => trackedChildren.delete(child));
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;

  process.on('exit', () => {
    for (const [child, signal] of trackedChildren) child.kill(signal);
  });

  const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  for (const [name, number] of Object.entries(signalNumbers)) {
    const signal = name as NodeJS.Signals;
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return;
      const stops = [...trackedChildren].map(([child, stopSignal]) => stopChild(child, stopSignal, 5000));
      void Promise.allSettled(stops).then(() => process.exit(128 + (number ?? 0)));
    };
    process.on(signal, onSignal);
  }
}
