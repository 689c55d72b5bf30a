/**
 * Returns the terms document inside `input`: the document itself, or the `terms` of a
 * request body `{ "terms": { ... } }` as the API takes it, so one file serves both.
 */
export function unwrapTerms(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const keys = Object.keys(input);
  if (keys.length === 1 && keys[0] === 'terms') return (input as { terms: unknown }).terms;
  return input;
}
