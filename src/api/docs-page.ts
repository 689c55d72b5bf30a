import { escapeHtml as e } from './html';

type JsonObject = Record<string, any>;

const METHOD_ORDER = ['get', 'post', 'put', 'patch', 'delete'];

function schemaBlock(schema: unknown): string {
  return `<pre>${e(JSON.stringify(schema, null, 2))}</pre>`;
}

function renderOperation(path: string, method: string, operation: JsonObject): string {
  const anchor = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, '-');
  const roles: string[] = operation['x-roles'] ?? [];
  const parameters: JsonObject[] = operation.parameters ?? [];
  const body = operation.requestBody?.content?.['application/json']?.schema;

  const parameterRows = parameters
    .map(
      (p) =>
        `<tr><td><code>${e(p.name)}</code></td><td>${e(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${e(p.description ?? '')}</td><td><code>${e(JSON.stringify(p.schema))}</code></td></tr>`,
    )
    .join('');
  const responses = Object.entries(operation.responses ?? {})
    .map(([status, response]: [string, any]) => {
      const content = Object.entries(response.content ?? {}) as [string, JsonObject][];
      const schemas = content
        .map(([type, media]) => `<div class="media">${e(type)}</div>${media.schema && !media.schema.$ref ? schemaBlock(media.schema) : ''}`)
        .join('');
      const open = Number(status) < 300 && schemas !== '' ? ' open' : '';
      return `<details${open}><summary><span class="status s${e(status[0])}">${e(status)}</span> ${e(response.description)}</summary>${schemas}</details>`;
    })
    .join('');

  return `<section id="${e(anchor)}">
<h3><span class="method ${e(method)}">${e(method.toUpperCase())}</span> <code>${e(path)}</code></h3>
<p class="summary">${e(operation.summary ?? '')}</p>
<p class="roles">Roles: ${roles.map((role) => `<span class="role">${e(role)}</span>`).join(' ')}${operation['x-idempotent'] ? ' <span class="role idem">Idempotency-Key</span>' : ''}</p>
${operation.description ? `<p>${e(operation.description.split('\n\nRoles:')[0])}</p>` : ''}
${parameterRows ? `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>required</th><th>description</th><th>schema</th></tr></thead><tbody>${parameterRows}</tbody></table>` : ''}
${body ? `<h4>Request body (application/json)</h4><details open><summary>schema</summary>${schemaBlock(body)}</details>` : ''}
<h4>Responses</h4>
${responses}
</section>`;
}

/**
 * Renders an OpenAPI document as one self-contained HTML page: every path and method with
 * its roles, parameters, request schema and responses. It loads nothing from any other
 * host and runs no script, so it works offline.
 */
export function renderDocsPage(document: JsonObject): string {
  const operations: { path: string; method: string; operation: JsonObject }[] = [];
  for (const [path, item] of Object.entries(document.paths ?? {}) as [string, JsonObject][]) {
    for (const method of METHOD_ORDER) {
      if (item[method]) operations.push({ path, method, operation: item[method] });
    }
  }
  const toc = operations
    .map(({ path, method, operation }) => {
      const anchor = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, '-');
      return `<li><a href="#${e(anchor)}"><span class="method ${e(method)}">${e(method.toUpperCase())}</span> <code>${e(path)}</code></a> ${e(operation.summary ?? '')}</li>`;
    })
    .join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(document.info?.title ?? 'API')} reference</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 64rem; padding: 1rem 2rem 4rem; color: #1a1a1a; line-height: 1.45; }
  code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85rem; }
  pre { background: #f5f5f7; padding: 0.75rem; overflow-x: auto; border-radius: 4px; max-height: 28rem; }
  section { border-top: 1px solid #ddd; padding-top: 0.5rem; margin-top: 1.5rem; }
  .method { display: inline-block; min-width: 3.5rem; text-align: center; border-radius: 3px; color: #fff; font-size: 0.8rem; font-weight: 600; padding: 0.1rem 0.3rem; }
  .get { background: #1f6feb; } .post { background: #1a7f37; } .put { background: #9a6700; } .delete { background: #cf222e; }
  .role { display: inline-block; background: #eef; border: 1px solid #ccd; border-radius: 10px; padding: 0 0.5rem; font-size: 0.8rem; }
  .idem { background: #efe; }
  .status { font-weight: 600; } .s2 { color: #1a7f37; } .s4 { color: #9a6700; } .s5 { color: #cf222e; }
  .media { color: #555; font-size: 0.8rem; margin-top: 0.4rem; }
  table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
  th, td { text-align: left; border-bottom: 1px solid #eee; padding: 0.25rem 0.4rem; vertical-align: top; }
  ul.toc { list-style: none; padding-left: 0; } ul.toc li { margin: 0.2rem 0; }
  a { color: inherit; text-decoration: none; } a:hover code { text-decoration: underline; }
</style>
</head>
<body>
<h1>${e(document.info?.title ?? 'API')} <small>v${e(document.info?.version ?? '')}</small></h1>
<p>${e(document.info?.description ?? '')}</p>
<p>Machine-readable document: <a href="/v1/openapi.json"><code>/v1/openapi.json</code></a> (OpenAPI ${e(document.openapi)}).</p>
<h2>Routes</h2>
<ul class="toc">
${toc}
</ul>
${operations.map(({ path, method, operation }) => renderOperation(path, method, operation)).join('\n')}
<section>
<h2>Problem document</h2>
${schemaBlock(document.components?.schemas?.Problem ?? {})}
</section>
</body>
</html>
`;
}
