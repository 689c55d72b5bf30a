import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { startTemporalDevServer } from '../../src/runtime/dev-server';
import { quietLog } from '../../src/runtime/log';
import { canConnect, freePort } from '../../src/runtime/process';
import { localEnv } from '../support/temporal';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-dev-server-'));
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** Lists the processes whose command line mentions `text`, other than this test process. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const state = fs.readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (commandLine.includes(text) && state !== 'Z') found.push(`${entry}: ${commandLine}`);
    } catch {
      // The process exited while being read.
    }
  }
  return found;
}

async function withClient<T>(address: string, use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await use(new Client({ connection }));
  } finally {
    await connection.close();
  }
}

test('dev server keeps workflows across restart', async () => {
  const port = await freePort();
  const uiPort = await freePort();
  const workflowId = `kept-${Date.now()}`;

  const first = await startTemporalDevServer({ dataDir, port, uiPort, log: quietLog });
  try {
    assert.equal(first.address, `127.0.0.1:${port}`);
    assert.equal(first.uiUrl, `http://127.0.0.1:${uiPort}`);
    // No worker polls this task queue, so the workflow stays running.
    await withClient(first.address, (client) =>
      client.workflow.start('neverPolled', { taskQueue: 'runtime-dev-server', workflowId }),
    );
  } finally {
    await first.stop();
  }
  assert.equal(await canConnect('127.0.0.1', port), false, 'port still open after stop()');
  assert.deepEqual(processesMentioning(dataDir), [], 'dev server process left after stop()');

  const second = await startTemporalDevServer({ dataDir, port, uiPort, log: quietLog });
  try {
    const description = await withClient(second.address, (client) => client.workflow.getHandle(workflowId).describe());
    assert.equal(description.status.name, 'RUNNING');
  } finally {
    await second.stop();
  }
  assert.deepEqual(processesMentioning(dataDir), [], 'dev server process left after stop()');
});

test('dev server rejects a port in use', async () => {
  const port = await freePort();
  const server = await startTemporalDevServer({ dataDir, port, log: quietLog });
  try {
    await assert.rejects(startTemporalDevServer({ dataDir, port, log: quietLog }), /already in use/);
  } finally {
    await server.stop();
  }
});

test('localEnv starts and tears down', async () => {
  const env = await localEnv();
  const [, port] = env.address.split(':');
  const info = await env.connection.workflowService.getSystemInfo({});
  assert.ok(info.capabilities, 'GetSystemInfo returned no capabilities');
  await env.teardown();
  assert.equal(await canConnect('127.0.0.1', Number(port)), false, 'port still open after teardown()');
});
