import path from 'node:path';
import { loadConfig, parseDuration } from '../config';
import { consoleLog, formatElapsed } from '../runtime/log';
import { checkAgainstSimulator } from '../replay/compare';
import { alertTable, invoiceTable, monthLine, statementTable } from '../replay/report';
import { runReplayScenario, type ReplayProgress, type ReplayResult } from '../replay/run';
import { MAX_REPLAY_MONTHS, REPLAY_CUSTOMERS } from '../replay/scenario';

const HELP = `Usage: trueup replay [--months N] [--sample N] [--data-dir DIR] [--close-delay DURATION]

Replays real LLM inference traffic (examples/data/azure-llm-trace-2023) through two signed
contracts, month after month: a code assistant on code.csv (cap policy throttle) and a
conversation agent on conv.csv (cap policy upgrade). Each trace request becomes an
llm_input_token and an llm_output_token event sent to the HTTP API, and the contract
workflows close each month, issue its invoice and email its alerts. At the end it prints
each contract's statements, invoices and alert emails, and checks the statements against
the simulator run on the same usage.

The replay runs its own stack in this process, so \`trueup start\` is not needed: an
embedded PostgreSQL in DIR, Temporal's time-skipping test server, the worker, and the API
on a free port of 127.0.0.1 whose clock is the test server's. Months pass in seconds
because the test server skips its clock forward; every event, close, invoice and email
goes through the same code as in production. DIR is emptied at start and kept afterwards.

Options:
  --months N               Billing months to replay, 1 to ${MAX_REPLAY_MONTHS} (default ${MAX_REPLAY_MONTHS}); it is also the contracts' term
  --sample N               Send every Nth trace request with its tokens multiplied by N (default 1: all of them)
  --data-dir DIR           Folder of the replay's database, outbox and log (default <TRUEUP_DATA_DIR>/replay, i.e. .data/replay)
  --close-delay DURATION   Time after a month's end before it closes, such as 1h (default CLOSE_DELAY, else 1h)

Alert emails go to SMTP_URL when it is set, else to .eml files in DIR/outbox.
Exit status: 0 when the statements match the simulator, 1 when they differ or the replay fails,
2 for invalid options, 130 or 143 when stopped by SIGINT (Ctrl-C) or SIGTERM.
`;

interface ReplayArgs {
  months: number;
  sample: number;
  dataDir: string | undefined;
  closeDelay: string | undefined;
}

function parsePositiveInteger(flag: string, text: string | undefined, max: number): number {
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`${flag} must be a whole number from 1 to ${max}, got "${text ?? ''}".`);
  }
  return value;
}

function parseArgs(argv: readonly string[]): ReplayArgs {
  const args: ReplayArgs = { months: MAX_REPLAY_MONTHS, sample: 1, dataDir: undefined, closeDelay: undefined };
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index]!;
    const value = argv[index + 1];
    if (flag === '--months') args.months = parsePositiveInteger(flag, value, MAX_REPLAY_MONTHS);
    else if (flag === '--sample') args.sample = parsePositiveInteger(flag, value, 1000);
    else if (flag === '--data-dir' && value) args.dataDir = value;
    else if (flag === '--close-delay' && value) args.closeDelay = value;
    else throw new Error(`Unknown or incomplete option "${flag}". Run \`trueup replay --help\` for the options.`);
    index += 1;
  }
  return args;
}

/** Runs `trueup replay`; returns 0 when the live statements match the simulator. */
export async function runReplay(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.write(HELP);
    return 0;
  }
  let args: ReplayArgs;
  let closeDelayMs: number;
  const config = loadConfig();
  try {
    args = parseArgs(argv);
    closeDelayMs = args.closeDelay === undefined ? config.closeDelayMs : parseDuration(args.closeDelay, '--close-delay');
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const dataDir = path.resolve(args.dataDir ?? path.join(config.dataDir, 'replay'));
  const started = Date.now();
  const write = (line = '') => out.write(`${line}\n`);

  write(`Replaying ${args.months} months of real LLM traffic through ${REPLAY_CUSTOMERS.length} contracts (sample 1 in ${args.sample}).`);
  write(`Starting a stack of its own: embedded PostgreSQL in ${path.relative(process.cwd(), dataDir) || '.'}, time-skipping Temporal server, worker, API.`);

  const onProgress = (event: ReplayProgress) => {
    if (event.kind === 'stack') {
      write(`Stack ready in ${formatElapsed(Date.now() - started)}: API ${event.apiUrl}/v1, emails to ${event.mailDestination}, log ${event.logFile}`);
    } else if (event.kind === 'signed') {
      const { run } = event;
      write(
        `Signed contract ${run.contractId} for ${run.terms.customer.name}: ${run.customer.description}, ` +
          `${run.terms.termMonths} months from ${run.terms.startDate}, ${run.rows.length.toLocaleString('en-US')} events to send.`,
      );
    } else {
      const month = event.periodIndex;
      write(`Month ${month + 1} of ${args.months} closed:`);
      event.runs.forEach((run, position) => {
        write(monthLine(run, run.tallies[month]!, event.statements[position]!, Date.now() - started));
      });
    }
  };

  // The Temporal SDK shuts its worker down on these signals but leaves the process
  // running, so the replay stops its own stack and exits.
  const controller = new AbortController();
  let exitStatusOnSignal = 1;
  const onSignal = (signal: NodeJS.Signals) => {
    exitStatusOnSignal = signal === 'SIGINT' ? 130 : 143;
    controller.abort(new Error(`Interrupted by ${signal}; the replay stack was stopped.`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let result: ReplayResult;
  try {
    result = await runReplayScenario(
      {
        customers: REPLAY_CUSTOMERS,
        months: args.months,
        sample: args.sample,
        dataDir,
        closeDelayMs,
        smtpUrl: config.smtpUrl,
        mailFrom: config.mailFrom,
        logLevel: config.logLevel,
        log: consoleLog,
        signal: controller.signal,
      },
      onProgress,
    );
  } catch (error) {
    process.stderr.write(`trueup replay failed: ${(error as Error).message}\n`);
    return exitStatusOnSignal;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return printResult(result, closeDelayMs, write, Date.now() - started);
}

function printResult(result: ReplayResult, closeDelayMs: number, write: (line?: string) => void, elapsedMs: number): number {
  let differences = 0;
  for (const run of result.runs) {
    write();
    write(`== ${run.terms.customer.name} (${run.customer.description}), contract ${run.contractId}, ${run.status}`);
    write();
    write(statementTable(run.statements));
    write();
    write('Invoices:');
    write(invoiceTable(run));
    write();
    write(`Alert emails (${result.mailDestination.startsWith('smtp') ? 'sent by SMTP' : 'written to the outbox'}):`);
    write(alertTable(run, result.mailDestination));

    const triggers = run.alerts.filter((alert) => alert.kind === 'renegotiation_trigger');
    write();
    if (triggers.length === 0) write('Renegotiation trigger: did not fire.');
    for (const alert of triggers) {
      const period = alert.periodIndex === null ? undefined : run.statements[alert.periodIndex];
      write(
        `Renegotiation trigger fired at the close of ${period?.start.slice(0, 7) ?? 'an unknown period'}: ` +
          `emailed ${alert.recipients.join(', ')} (${alert.status}), respond by ${period?.trigger.respondBy ?? 'unknown'}.`,
      );
    }

    const check = checkAgainstSimulator(run, closeDelayMs);
    const rejected = run.tallies.reduce((sum, tally) => sum + tally.rejected, 0);
    if (rejected > 0) {
      check.differences.push(`${rejected} events were rejected by the API: ${run.tallies.flatMap((tally) => tally.rejections).join('; ')}`);
    }
    write();
    if (check.differences.length === 0) {
      write(`${run.customer.key}: statements match the simulator (${run.statements.length} periods, ${run.invoices.length} invoices).`);
    } else {
      write(`${run.customer.key}: ${check.differences.length} differences from the simulator:`);
      for (const difference of check.differences) write(`  ${difference}`);
    }
    differences += check.differences.length;
  }

  const events = result.runs.reduce((sum, run) => sum + run.rows.length, 0);
  write();
  write(
    `Replayed ${result.runs[0]?.statements.length ?? 0} months and ${events.toLocaleString('en-US')} events in ${formatElapsed(elapsedMs)}. ` +
      (differences === 0 ? 'statements match the simulator' : `${differences} differences from the simulator`),
  );
  return differences === 0 ? 0 : 1;
}
