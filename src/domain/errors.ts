/** One rule of a document that a value breaks, with the field path and a readable sentence. */
export interface ValidationIssue {
  /** Field path in the document, such as `tiers[1].commitCredits`; empty for the whole document. */
  path: string;
  /** Short name of the rule, such as `commit_increasing` or `required`. */
  rule: string;
  /** The rule and the offending value as a sentence. */
  message: string;
}

/** Base class of the errors the domain raises, so callers can map them in one place. */
export class DomainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

function summarize(subject: string, issues: readonly ValidationIssue[]): string {
  const lines = issues.map((issue) => `${issue.path || '(document)'}: ${issue.message}`);
  return `${subject} (${issues.length} ${issues.length === 1 ? 'issue' : 'issues'}): ${lines.join('; ')}`;
}

/** Raised by `parseTerms` when a terms document breaks one or more rules. */
export class TermsValidationError extends DomainError {
  readonly issues: ValidationIssue[];

  constructor(issues: ValidationIssue[]) {
    super(summarize('Invalid terms', issues));
    this.issues = issues;
  }
}

/** Raised when the input of a close, an admission or a simulation breaks a rule. */
export class DomainInputError extends DomainError {
  readonly issues: ValidationIssue[];

  constructor(subject: string, issues: ValidationIssue[]) {
    super(summarize(subject, issues));
    this.issues = issues;
  }

  /** Builds an error with a single issue. */
  static of(subject: string, path: string, rule: string, message: string): DomainInputError {
    return new DomainInputError(subject, [{ path, rule, message }]);
  }
}

/** Raised when usage names a meter that the terms do not define. */
export class UnknownMeterError extends DomainError {
  readonly meter: string;

  constructor(meter: string, known: readonly string[]) {
    super(`Unknown meter "${meter}": the terms define ${known.map((key) => `"${key}"`).join(', ')}.`);
    this.meter = meter;
  }
}
