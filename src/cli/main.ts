// The `trueup` command line: one entry point that dispatches to each subcommand.

const USAGE = `Usage: trueup <command> [options]

Commands:
  start                 Run everything locally: PostgreSQL, Temporal dev server, worker and API
  api                   Run the HTTP API alone (needs DATABASE_URL and TEMPORAL_ADDRESS)
  worker                Run the Temporal worker alone (needs DATABASE_URL and TEMPORAL_ADDRESS)
  migrate               Apply pending database migrations
  keys create|list|revoke  Create (--role R), list or revoke API keys
  simulate              Simulate a deal over a usage file: --terms FILE --usage FILE [--format table|json|csv]
  review TERMS.json     Print the red flags and warnings of a term sheet
  replay                Replay real LLM traffic through two contracts for months, on a stack of its own

Run \`trueup <command> --help\` for a command's options.
`;

type CommandRunner = (argv: string[]) => Promise<number>;

// Each command's module is required only when that command runs, so `trueup simulate`
// does not load the Temporal worker's native library.
/* eslint-disable @typescript-eslint/no-require-imports */

const commands: Record<string, () => CommandRunner> = {
  start: () => (require('./start') as typeof import('./start')).runStart,
  api: () => (require('./services') as typeof import('./services')).runApi,
  worker: () => (require('./services') as typeof import('./services')).runWorker,
  migrate: () => (require('./services') as typeof import('./services')).runMigrate,
  keys: () => (require('./keys') as typeof import('./keys')).runKeys,
  simulate: () => {
    const { runSimulate } = require('./simulate') as typeof import('./simulate');
    return (argv) => runSimulate(argv, process.stdout);
  },
  review: () => {
    const { runReview } = require('./review') as typeof import('./review');
    return (argv) => runReview(argv, process.stdout);
  },
  replay: () => (require('./replay') as typeof import('./replay')).runReplay,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`Unknown command "${name}".\n\n${USAGE}`);
    return 2;
  }
  const run = load();
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`trueup: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
