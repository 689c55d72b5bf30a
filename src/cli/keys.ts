import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { createApiKey, ROLES } from '../db/api-keys';
import type { Role } from '../db/schema';
import { createLogger } from '../logger';
import { Stack, openDatabase } from './stack';
import { resolveDatabaseUrl } from './database-url';

const HELP = `Usage: trueup keys create --role ROLE [--customer ID] [--label TEXT]

Creates an API key and prints its token once (only a hash is stored).
  --role       admin, sales, ops, account_manager, finance or ingest
  --customer   for ingest keys: the customer id whose usage the key may send
  --label      a note to recognise the key by
`;

/** `trueup keys create`: makes an API key, e.g. the first admin key of a deployment. */
export async function runKeys(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'create') {
    process.stdout.write(HELP);
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: { role: { type: 'string' }, customer: { type: 'string' }, label: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.role || !ROLES.includes(values.role as Role)) {
    process.stderr.write(`--role must be one of ${ROLES.join(', ')}; got ${values.role ? `"${values.role}"` : 'nothing'}.\n`);
    return 2;
  }
  if (values.role === 'ingest' && !values.customer) {
    process.stderr.write('An ingest key needs --customer: the customer id whose usage it may send.\n');
    return 2;
  }

  const config = loadConfig();
  const stack = new Stack(createLogger('warn', 'trueup-keys'));
  try {
    const url = await resolveDatabaseUrl(config, stack);
    const db = await openDatabase(url, stack);
    const { keyId, token } = await createApiKey(db, {
      role: values.role as Role,
      customerId: values.customer ?? null,
      label: values.label ?? null,
    });
    process.stderr.write(`Created ${values.role} key ${keyId}. The token below is shown only once:\n`);
    process.stdout.write(`${token}\n`);
    return 0;
  } finally {
    await stack.stop();
  }
}
