import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { createApiKey, listApiKeys, revokeApiKey, ROLES } from '../db/api-keys';
import type { Role } from '../db/schema';
import { createLogger } from '../logger';
import { Stack, openDatabase } from './stack';
import { resolveDatabaseUrl } from './database-url';

const HELP = `Usage: trueup keys create --role ROLE [--customer ID] [--label TEXT]
       trueup keys list
       trueup keys revoke KEY_ID

create   Creates an API key and prints its token once (only a hash is stored).
           --role       admin, sales, ops, account_manager, finance or ingest
           --customer   for ingest keys: the customer id whose usage the key may send
           --label      a note to recognise the key by
list     Prints every key's id, role, customer, label and state (never a secret).
revoke   Revokes a key by its id (the part after "tu_" in the token, 12 characters);
         requests with it get 401 from then on.
`;

/** `trueup keys create`: makes an API key, e.g. the first admin key of a deployment. */
export async function runKeys(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === undefined) {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'list' || sub === 'revoke') return runKeyAdmin(sub, rest);
  if (sub !== 'create') {
    process.stderr.write(`Unknown keys command "${sub}"; use create, list or revoke.\n\n${HELP}`);
    return 2;
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

async function runKeyAdmin(sub: 'list' | 'revoke', rest: string[]): Promise<number> {
  if (sub === 'revoke' && (rest.length !== 1 || !rest[0])) {
    process.stderr.write('Usage: trueup keys revoke KEY_ID (the 12 characters after "tu_" in the token).\n');
    return 2;
  }
  const config = loadConfig();
  const stack = new Stack(createLogger('warn', 'trueup-keys'));
  try {
    const db = await openDatabase(await resolveDatabaseUrl(config, stack), stack);
    if (sub === 'list') {
      for (const key of await listApiKeys(db)) {
        const state = key.revokedAt ? `revoked ${key.revokedAt}` : 'active';
        process.stdout.write(`${key.keyId}  ${key.role.padEnd(15)}  ${(key.customerId ?? '-').padEnd(12)}  ${state}  ${key.label ?? ''}\n`);
      }
      return 0;
    }
    const keyId = rest[0]!;
    if (!(await revokeApiKey(db, keyId, new Date()))) {
      process.stderr.write(`No API key has the id "${keyId}"; \`trueup keys list\` shows the ids.\n`);
      return 1;
    }
    process.stderr.write(`Key ${keyId} is revoked.\n`);
    return 0;
  } finally {
    await stack.stop();
  }
}
