import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDraftTerms, parseTerms, TermsValidationError, type ValidationIssue } from '../../src/domain';
import { referenceJson } from './domain-fixtures';

function issuesOf(input: unknown): ValidationIssue[] {
  try {
    parseTerms(input);
  } catch (error) {
    assert.ok(error instanceof TermsValidationError);
    return error.issues;
  }
  assert.fail('expected parseTerms to throw TermsValidationError');
}

function issueAt(input: unknown, path: string): ValidationIssue {
  const issue = issuesOf(input).find((candidate) => candidate.path === path);
  assert.ok(issue, `expected an issue at ${path}, got ${JSON.stringify(issuesOf(input))}`);
  return issue;
}

test('reference deal parses', () => {
  const terms = parseTerms(referenceJson());
  assert.equal(terms.currency, 'USD');
  assert.equal(terms.tiers[1]?.commitCredits, '100000');
  assert.equal(terms.prepaid?.[0]?.discount, '0.15');
});

test('minimal terms leave optional blocks out', () => {
  const terms = parseTerms(
    referenceJson((json) => {
      for (const key of ['overageMultiplier', 'capPolicy', 'rollover', 'prepaid', 'trueUp', 'renegotiation', 'alerts', 'projection', 'clauses']) {
        delete json[key];
      }
    }),
  );
  assert.equal(terms.rollover, undefined);
  assert.equal(terms.capPolicy, undefined);
});

test('higher tier needs a larger commit', () => {
  const issue = issueAt(referenceJson((json) => (json.tiers[1].commitCredits = '50000')), 'tiers[1].commitCredits');
  assert.equal(issue.rule, 'commit_increasing');
  assert.match(issue.message, /must be larger than the commit of the lower tier "growth" \(50000\)/);
});

test('spend cap must cover the fees', () => {
  const issue = issueAt(referenceJson((json) => (json.tiers[0].spendCap = '14999.99')), 'tiers[0].spendCap');
  assert.equal(issue.rule, 'cap_covers_fees');
  assert.match(issue.message, /at least the platform fee plus the commit fee \(15000\)/);
});

test('money fields keep the currency minor unit', () => {
  const issue = issueAt(referenceJson((json) => (json.tiers[0].platformFee = '5000.001')), 'tiers[0].platformFee');
  assert.equal(issue.rule, 'minor_unit');
  assert.match(issue.message, /at most 2 decimal places, the minor unit of USD/);
  const yen = issueAt(
    referenceJson((json) => {
      json.currency = 'JPY';
      json.tiers[0].spendCap = '25000.5';
    }),
    'tiers[0].spendCap',
  );
  assert.equal(yen.rule, 'minor_unit');
});

test('spend cap equal to the fees is valid', () => {
  assert.doesNotThrow(() => parseTerms(referenceJson((json) => (json.tiers[0].spendCap = '15000.00'))));
});

test('tier names are unique', () => {
  const issue = issueAt(referenceJson((json) => (json.tiers[1].name = 'growth')), 'tiers[1].name');
  assert.equal(issue.rule, 'unique');
});

test('price per credit is positive', () => {
  assert.equal(issueAt(referenceJson((json) => (json.tiers[0].pricePerCredit = '0')), 'tiers[0].pricePerCredit').rule, 'positive');
});

test('commit and platform fee are not negative', () => {
  assert.equal(issueAt(referenceJson((json) => (json.tiers[0].platformFee = '-1')), 'tiers[0].platformFee').rule, 'minimum');
  const json = referenceJson((j) => (j.tiers[0].commitCredits = '-5'));
  assert.equal(issueAt(json, 'tiers[0].commitCredits').rule, 'minimum');
});

test('amounts must be decimal strings', () => {
  const issue = issueAt(referenceJson((json) => (json.tiers[0].pricePerCredit = 0.2)), 'tiers[0].pricePerCredit');
  assert.equal(issue.rule, 'type');
  assert.match(issue.message, /decimal string/);
  assert.equal(issueAt(referenceJson((json) => (json.tiers[0].pricePerCredit = '1e3')), 'tiers[0].pricePerCredit').rule, 'decimal');
});

test('currency must be ISO 4217', () => {
  const issue = issueAt(referenceJson((json) => (json.currency = 'DOLLARS')), 'currency');
  assert.equal(issue.rule, 'iso_4217');
});

test('time zone must be IANA', () => {
  assert.equal(issueAt(referenceJson((json) => (json.timeZone = 'Mars/Olympus')), 'timeZone').rule, 'iana_zone');
});

test('start date must be a calendar date', () => {
  assert.equal(issueAt(referenceJson((json) => (json.startDate = '2026-02-30')), 'startDate').rule, 'calendar_date');
  assert.equal(issueAt(referenceJson((json) => (json.startDate = '2026-01-01T00:00:00Z')), 'startDate').rule, 'calendar_date');
});

test('term is 1 to 120 whole months', () => {
  assert.equal(issueAt(referenceJson((json) => (json.termMonths = 0)), 'termMonths').rule, 'minimum');
  assert.equal(issueAt(referenceJson((json) => (json.termMonths = 121)), 'termMonths').rule, 'maximum');
  assert.equal(issueAt(referenceJson((json) => (json.termMonths = 1.5)), 'termMonths').rule, 'type');
});

test('meter keys follow the pattern and are unique', () => {
  assert.equal(issueAt(referenceJson((json) => (json.meters[0].key = 'Agent-Task')), 'meters[0].key').rule, 'format');
  assert.equal(issueAt(referenceJson((json) => (json.meters[0].key = 'a'.repeat(65))), 'meters[0].key').rule, 'format');
  const duplicate = issueAt(referenceJson((json) => (json.meters[2].key = 'agent_task')), 'meters[2].key');
  assert.equal(duplicate.rule, 'unique');
  assert.match(duplicate.message, /also the key of meters\[0\]/);
});

test('meter credits per unit is positive', () => {
  assert.equal(issueAt(referenceJson((json) => (json.meters[1].creditsPerUnit = '0')), 'meters[1].creditsPerUnit').rule, 'positive');
});

test('meter kind is usage or outcome', () => {
  assert.equal(issueAt(referenceJson((json) => (json.meters[0].kind = 'seat')), 'meters[0].kind').rule, 'one_of');
  assert.doesNotThrow(() => parseTerms(referenceJson((json) => (json.meters[0].kind = 'outcome'))));
});

test('overage multiplier is 0 or at least 1', () => {
  assert.equal(issueAt(referenceJson((json) => (json.overageMultiplier = '0.9')), 'overageMultiplier').rule, 'minimum');
  assert.doesNotThrow(() => parseTerms(referenceJson((json) => (json.overageMultiplier = '0'))));
  assert.doesNotThrow(() => parseTerms(referenceJson((json) => delete json.overageMultiplier)));
});

test('cap policy and true-up are from their lists', () => {
  assert.equal(issueAt(referenceJson((json) => (json.capPolicy = 'ignore')), 'capPolicy').rule, 'one_of');
  assert.equal(issueAt(referenceJson((json) => (json.trueUp = 'weekly')), 'trueUp').rule, 'one_of');
});

test('rollover fraction and expiry are bounded', () => {
  assert.equal(issueAt(referenceJson((json) => (json.rollover.fraction = '1.1')), 'rollover.fraction').rule, 'maximum');
  assert.equal(issueAt(referenceJson((json) => (json.rollover.expiresAfterDays = 0)), 'rollover.expiresAfterDays').rule, 'minimum');
  assert.equal(issueAt(referenceJson((json) => delete json.rollover.expiresAfterDays), 'rollover.expiresAfterDays').rule, 'required');
});

test('renegotiation basis and streak are valid', () => {
  assert.equal(issueAt(referenceJson((json) => (json.renegotiation.basis = 'usage')), 'renegotiation.basis').rule, 'one_of');
  assert.equal(issueAt(referenceJson((json) => (json.renegotiation.consecutivePeriods = 0)), 'renegotiation.consecutivePeriods').rule, 'minimum');
});

test('initial tier must exist', () => {
  const issue = issueAt(referenceJson((json) => (json.initialTier = 'enterprise')), 'initialTier');
  assert.equal(issue.rule, 'known_tier');
  assert.match(issue.message, /"growth", "scale"/);
});

test('missing and unknown fields are named', () => {
  assert.equal(issueAt(referenceJson((json) => delete json.customer.billingEmail), 'customer.billingEmail').rule, 'required');
  const unknown = issueAt(referenceJson((json) => (json.overageMultiplyer = '1.3')), '');
  assert.equal(unknown.rule, 'unknown_field');
  assert.match(unknown.message, /"overageMultiplyer"/);
});

test('validation lists every broken rule', () => {
  const issues = issuesOf(
    referenceJson((json) => {
      json.currency = 'XXX1';
      json.tiers[1].commitCredits = '1';
      json.termMonths = 0;
    }),
  );
  assert.deepEqual(issues.map((issue) => issue.path).sort(), ['currency', 'termMonths', 'tiers[1].commitCredits']);
});

test('error message reads as sentences', () => {
  try {
    parseTerms(referenceJson((json) => (json.tiers[1].commitCredits = '50000')));
    assert.fail('expected an error');
  } catch (error) {
    assert.ok(error instanceof TermsValidationError);
    assert.match(error.message, /^Invalid terms \(1 issue\): tiers\[1\]\.commitCredits: must be larger/);
  }
});

test('draft terms admit what review flags', () => {
  const draft = parseDraftTerms(
    referenceJson((json) => {
      json.rollover.fraction = '1.5';
      delete json.rollover.expiresAfterDays;
    }),
  );
  assert.equal(draft.rollover?.fraction, '1.5');
  assert.equal(draft.rollover?.expiresAfterDays, undefined);
});
