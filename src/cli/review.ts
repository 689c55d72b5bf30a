import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { unwrapTerms } from './terms-file';
import { parseDraftTerms, reviewTerms, TermsSchema, TermsValidationError, type Finding, type ValidationIssue } from '../domain';
import { formatPath } from '../domain/terms';

const HELP = `Usage: trueup review TERMS.json [--format text|json]

Reviews a draft term sheet and prints its red flags (which block signing unless an
approver overrides them) and its warnings (outside the reference guidance).

Exit status: 0 when there is no red flag, 1 when there are red flags or the terms are
invalid, 2 on a usage error.
`;

/** Returns the rules of a signed contract that a draft breaks but no red flag reports. */
function signedRuleIssues(input: unknown, redFlags: readonly Finding[]): ValidationIssue[] {
  const result = TermsSchema.safeParse(input);
  if (result.success) return [];
  const flagged = new Set(redFlags.map((finding) => finding.field));
  return result.error.issues
    .map((issue) => ({ path: formatPath(issue.path), rule: String((issue as { params?: { rule?: string } }).params?.rule ?? issue.code), message: issue.message }))
    .filter((issue) => !flagged.has(issue.path));
}

/** Runs `trueup review`: reviews a draft term sheet and writes the findings to `out`. Returns the exit status. */
export async function runReview(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { format: { type: 'string', default: 'text' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch (error) {
    err.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help === true) {
    out.write(HELP);
    return 0;
  }
  const path = parsed.positionals[0];
  const format = parsed.values.format ?? 'text';
  if (path === undefined || parsed.positionals.length > 1 || !['text', 'json'].includes(format)) {
    err.write(`${path === undefined ? 'Missing TERMS.json.' : parsed.positionals.length > 1 ? 'Review one terms file at a time.' : `Invalid --format "${format}": expected text or json.`}\n\n${HELP}`);
    return 2;
  }

  let input: unknown;
  try {
    input = unwrapTerms(JSON.parse(fs.readFileSync(path, 'utf8')) as unknown);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    err.write(code === 'ENOENT' ? `File not found: ${path}\n` : `${path} is not valid JSON: ${(error as Error).message}\n`);
    return 1;
  }

  let review;
  try {
    review = reviewTerms(parseDraftTerms(input));
  } catch (error) {
    if (!(error instanceof TermsValidationError)) throw error;
    err.write(`${path}: invalid terms\n`);
    for (const issue of error.issues) err.write(`  ${issue.path || '(document)'}: ${issue.message} [${issue.rule}]\n`);
    return 1;
  }
  const invalid = signedRuleIssues(input, review.redFlags);

  if (format === 'json') {
    out.write(`${JSON.stringify({ ...review, invalid }, null, 2)}\n`);
  } else {
    const lines: string[] = [];
    lines.push(review.redFlags.length === 0 ? 'Red flags: none' : `Red flags (${review.redFlags.length}):`);
    for (const finding of review.redFlags) lines.push(`  ${finding.code} at ${finding.field}: ${finding.message}`);
    lines.push(review.warnings.length === 0 ? 'Warnings: none' : `Warnings (${review.warnings.length}):`);
    for (const finding of review.warnings) lines.push(`  ${finding.code} at ${finding.field}: ${finding.message}`);
    if (invalid.length > 0) {
      lines.push(`Not signable as written (${invalid.length}):`);
      for (const issue of invalid) lines.push(`  ${issue.path}: ${issue.message} [${issue.rule}]`);
    }
    out.write(`${lines.join('\n')}\n`);
  }
  return review.redFlags.length > 0 || invalid.length > 0 ? 1 : 0;
}
