import { z } from 'zod';
import { ALL_ROUTES } from './catalog';
import { IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency';
import { openApiPath, type RouteSpec } from './route-spec';
import { ProblemSchema } from './schemas';

type JsonObject = Record<string, unknown>;

/** Error statuses that every authenticated route can return, with their meaning. */
const SHARED_PROBLEMS: Record<number, string> = {
  400: 'the request is invalid: `errors` names each field path and rule',
  401: 'the API key is missing, malformed, unknown or revoked',
  403: "the key's role may not call this route",
  413: 'the body exceeds the size limit',
  415: 'the body is not JSON',
  429: 'the key exceeded its requests per minute; see `Retry-After`',
  500: 'the server failed; the problem holds no internals',
};

/** Converts a zod schema to JSON Schema 2020-12, the dialect of OpenAPI 3.1, as the client sends or receives it. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonObject;
  delete converted.$schema;
  return converted;
}

function parametersOf(schema: z.ZodObject | undefined, location: 'path' | 'query'): JsonObject[] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonObject>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (object.required ?? []).includes(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

function rolesOf(spec: RouteSpec): string[] {
  return spec.roles === 'public' ? [] : ['admin', ...spec.roles];
}

function operationOf(spec: RouteSpec): JsonObject {
  const roles = rolesOf(spec);
  const parameters = [...parametersOf(spec.params, 'path'), ...parametersOf(spec.query, 'query')];
  if (spec.idempotent) {
    parameters.push({
      name: IDEMPOTENCY_HEADER,
      in: 'header',
      required: false,
      description: `Makes a retry safe: a repeat with the same key and body returns the first response. Scoped per API key; 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters.`,
      schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
    });
  }

  const responses: JsonObject = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema || response.contentType
        ? { content: { [response.contentType ?? 'application/json']: response.schema ? { schema: jsonSchema(response.schema, 'output') } : {} } }
        : {}),
    };
  }
  const problem = { content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
  const problems: Record<number, string> =
    spec.roles === 'public' ? { 500: SHARED_PROBLEMS[500]! } : { ...SHARED_PROBLEMS, ...(spec.idempotent ? idempotencyProblems : {}), ...spec.problems };
  if (spec.roles !== 'public' && spec.method === 'get') {
    delete problems[413];
    delete problems[415];
  }
  for (const [status, description] of Object.entries(problems)) responses[status] = { description, ...problem };

  const rolesText = roles.length === 0 ? 'Roles: public (no API key).' : `Roles: ${roles.join(', ')}.`;
  return {
    operationId: spec.id,
    summary: spec.summary,
    description: [spec.description, rolesText].filter(Boolean).join('\n\n'),
    'x-roles': roles.length === 0 ? ['public'] : roles,
    ...(spec.idempotent ? { 'x-idempotent': true } : {}),
    security: spec.roles === 'public' ? [] : [{ apiKey: [] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } } } } : {}),
    responses,
  };
}

const idempotencyProblems: Record<number, string> = {
  409: `a request with the same ${IDEMPOTENCY_HEADER} is still running, or the state forbids the operation`,
  422: `the ${IDEMPOTENCY_HEADER} was used for a different request, or the request is refused`,
};

/** Builds the OpenAPI 3.1 document of every route from the catalog's zod schemas. */
export function buildOpenApiDocument(routes: readonly RouteSpec[] = ALL_ROUTES): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const spec of routes) {
    const path = openApiPath(spec);
    paths[path] ??= {};
    paths[path][spec.method] = operationOf(spec);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'trueup API',
      version: '1',
      description:
        'Contract lifecycle and usage-based billing. Send an API key as `Authorization: Bearer tu_<id>_<secret>`; `admin` keys may call every route. Errors are RFC 9457 problem documents. Amounts and credits are decimal strings.',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key created with `trueup keys create --role <role>`.' } },
      schemas: { Problem: jsonSchema(ProblemSchema, 'output') },
    },
    paths,
  };
}
