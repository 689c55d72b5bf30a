// Replays recorded histories of the contract workflow against the current workflow code,
// without a Temporal server: a change that would break contracts already running fails
// here. The histories come from `scripts/record-histories.ts`.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJson } from '../support/history-json';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { workflowBundle } from '../support/harness';

const repoRoot = path.resolve(__dirname, '../..');
const historiesDir = path.join(repoRoot, 'test/fixtures/histories');
const workflowSource = path.join(repoRoot, 'src/workflows/contract.ts');
// The first line of the workflow body after its handlers: every run's first command follows it.
const LOAD_SCHEDULE_LINE = '  const leanClose = patched(LEAN_CLOSE_PATCH);';

const silentBundlerLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

let tempDir: string;

function historyFiles(): string[] {
  return fs
    .readdirSync(historiesDir)
    .filter((name) => name.endsWith('.json'))
    .sort();
}

/**
 * Bundles a copy of the contract workflow whose source `edit` changed, from a temporary
 * folder: its relative imports are pointed back at src/workflows, and packages resolve from
 * the repository's node_modules.
 */
async function bundleEditedWorkflow(name: string, edit: (source: string) => string): Promise<WorkflowBundleWithSourceMap> {
  const original = fs.readFileSync(workflowSource, 'utf8');
  const edited = edit(original)
    .replace("from './messages'", `from ${JSON.stringify(path.join(repoRoot, 'src/workflows/messages'))}`)
    .replace("from '../activities/contract-activities'", `from ${JSON.stringify(path.join(repoRoot, 'src/activities/contract-activities'))}`);
  assert.notEqual(edited, original, `the edit "${name}" changed nothing`);
  const file = path.join(tempDir, `${name}.ts`);
  fs.writeFileSync(file, edited);
  return bundleWorkflowCode({
    workflowsPath: file,
    logger: silentBundlerLogger,
    webpackConfigHook: (config) => {
      config.resolve = { ...config.resolve, modules: [...(config.resolve?.modules ?? []), path.join(repoRoot, 'node_modules')] };
      return config;
    },
  });
}

/** Adds `sleep` to the workflow's imports and a line before the first schedule load. */
function insertBeforeFirstLoad(source: string, line: string): string {
  assert.ok(source.includes(LOAD_SCHEDULE_LINE), 'the first schedule load of the workflow moved; update this test');
  return source
    .replace("} from '@temporalio/workflow';", "  sleep,\n} from '@temporalio/workflow';")
    .replace(LOAD_SCHEDULE_LINE, `${line}\n${LOAD_SCHEDULE_LINE}`);
}

/** Replays every recorded history and returns each file's error, or undefined when it replayed. */
async function replayAll(bundle: WorkflowBundleWithSourceMap): Promise<Map<string, unknown>> {
  const outcomes = new Map<string, unknown>();
  for (const name of historyFiles()) {
    const history = historyFromJson(fs.readFileSync(path.join(historiesDir, name), 'utf8'));
    try {
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, `replay-${name}`);
      outcomes.set(name, undefined);
    } catch (error) {
      outcomes.set(name, error);
    }
  }
  return outcomes;
}

before(() => {
  quietTemporalRuntime();
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-replay-'));
});

after(() => {
  fs.rmSync(tempDir, { recursive: true, force: true });
});

test('recorded histories cover close, operations and completion', () => {
  // Runs recorded before the lean-close patch and after it: both must replay while either may be open.
  assert.deepEqual(historyFiles(), [
    'close-with-usage-alert.json',
    'close-with-usage-alert.lean-close.json',
    'operations-then-final-close.json',
    'operations-then-final-close.lean-close.json',
    'terminate-then-complete.json',
    'terminate-then-complete.lean-close.json',
  ]);
});

test('current workflow replays every recorded history', async () => {
  const outcomes = await replayAll(await workflowBundle());
  for (const [name, error] of outcomes) {
    assert.equal(error, undefined, `${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
});

test('unpatched sleep before loading fails replay', async () => {
  // A timer before the first activity: every recorded run scheduled loadSchedule first.
  const bundle = await bundleEditedWorkflow('unpatched-sleep', (source) => insertBeforeFirstLoad(source, "  await sleep('1 second');"));
  const outcomes = await replayAll(bundle);
  for (const [name, error] of outcomes) {
    assert.ok(error instanceof DeterminismViolationError, `${name}: expected DeterminismViolationError, got ${String(error)}`);
  }
});

test('patched sleep before loading replays', async () => {
  // The same change behind patched(): recorded runs carry no patch marker, so they skip the sleep.
  const bundle = await bundleEditedWorkflow('patched-sleep', (source) =>
    insertBeforeFirstLoad(source, "  if (patched('sleep-before-first-load')) await sleep('1 second');"),
  );
  const outcomes = await replayAll(bundle);
  for (const [name, error] of outcomes) {
    assert.equal(error, undefined, `${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
});
