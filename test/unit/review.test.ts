import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { Writable } from 'node:stream';
import { parseDraftTerms, reviewTerms } from '../../src/domain';
import { runReview } from '../../src/cli/review';
import { referenceJson } from './domain-fixtures';

// Every file a test writes lives under one folder, removed when the file's tests end.
const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-review-'));
after(() => fs.rmSync(tempRoot, { recursive: true, force: true }));

const review = (change: (json: Record<string, any>) => void) => reviewTerms(parseDraftTerms(referenceJson(change)));
const codes = (findings: { code: string }[]) => findings.map((finding) => finding.code);

test('reference deal has no red flags', () => {
  assert.deepEqual(review(() => {}).redFlags, []);
});

test('reference deal warnings follow the guidance', () => {
  // Projected month: 60,000 credits = 5,000.00 + 10,000.00 + 10,000 x 0.26 = 17,600.00.
  const { warnings } = review(() => {});
  assert.deepEqual(codes(warnings), ['FLOOR_OUTSIDE_GUIDANCE', 'SPEND_CAP_OUTSIDE_GUIDANCE', 'PLATFORM_FEE_OUTSIDE_GUIDANCE']);
  assert.match(warnings[0]?.message ?? '', /83\.3% of the projected 60000/);
  assert.match(warnings[1]?.message ?? '', /142% of the projected monthly charges of 17600\.00/);
  assert.match(warnings[2]?.message ?? '', /28\.4%/);
});

test('missing overage multiplier is uncapped COGS', () => {
  const { redFlags } = review((json) => delete json.overageMultiplier);
  assert.deepEqual(codes(redFlags), ['UNCAPPED_COGS']);
  assert.equal(redFlags[0]?.field, 'overageMultiplier');
});

test('zero overage multiplier is uncapped COGS', () => {
  assert.deepEqual(codes(review((json) => (json.overageMultiplier = '0')).redFlags), ['UNCAPPED_COGS']);
});

test('most favored nation is a red flag', () => {
  const { redFlags } = review((json) => (json.clauses.mostFavoredNation = true));
  assert.deepEqual(codes(redFlags), ['MOST_FAVORED_NATION']);
  assert.equal(redFlags[0]?.field, 'clauses.mostFavoredNation');
});

test('retroactive pricing is a red flag', () => {
  const { redFlags } = review((json) => (json.clauses.retroactivePricing = true));
  assert.deepEqual(codes(redFlags), ['RETROACTIVE_PRICING']);
  assert.equal(redFlags[0]?.field, 'clauses.retroactivePricing');
});

test('rollover without expiry is indefinite', () => {
  const { redFlags } = review((json) => delete json.rollover.expiresAfterDays);
  assert.deepEqual(codes(redFlags), ['INDEFINITE_ROLLOVER']);
  assert.equal(redFlags[0]?.field, 'rollover.expiresAfterDays');
});

test('rollover fraction above one is indefinite', () => {
  const { redFlags } = review((json) => (json.rollover.fraction = '1.2'));
  assert.deepEqual(codes(redFlags), ['INDEFINITE_ROLLOVER']);
  assert.equal(redFlags[0]?.field, 'rollover.fraction');
});

test('outcome meter with zero commit has no floor', () => {
  const { redFlags } = review((json) => {
    json.meters.push({ key: 'resolved_ticket', unit: 'ticket', creditsPerUnit: '50', kind: 'outcome' });
    json.tiers[0].commitCredits = '0';
    json.tiers[0].spendCap = '5000.00';
  });
  assert.deepEqual(codes(redFlags), ['OUTCOME_WITHOUT_FLOOR']);
  assert.equal(redFlags[0]?.field, 'tiers[0].commitCredits');
});

test('outcome meter with a commit is fine', () => {
  const { redFlags } = review((json) => json.meters.push({ key: 'resolved_ticket', creditsPerUnit: '50', kind: 'outcome' }));
  assert.deepEqual(redFlags, []);
});

test('warnings cover multiplier rollover and true-up', () => {
  const { warnings } = review((json) => {
    json.overageMultiplier = '2';
    json.rollover = { fraction: '0.1', expiresAfterDays: 30 };
    json.trueUp = 'quarterly';
    json.projection.monthlyCredits = '70000';
  });
  assert.ok(codes(warnings).includes('OVERAGE_MULTIPLIER_OUTSIDE_GUIDANCE'));
  assert.ok(codes(warnings).includes('ROLLOVER_OUTSIDE_GUIDANCE'));
  assert.ok(codes(warnings).includes('ROLLOVER_WINDOW_OUTSIDE_GUIDANCE'));
  assert.ok(codes(warnings).includes('TRUE_UP_NOT_MONTHLY'));
  assert.ok(!codes(warnings).includes('FLOOR_OUTSIDE_GUIDANCE'));
});

test('missing projection is a warning', () => {
  assert.ok(codes(review((json) => delete json.projection).warnings).includes('PROJECTION_MISSING'));
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

function writeTemp(json: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(tempRoot, 'case-')), 'terms.json');
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

test('review command exits zero without red flags', async () => {
  const out = new Capture();
  const status = await runReview([path.resolve(__dirname, '../../examples/reference-deal.json')], out, new Capture());
  assert.equal(status, 0);
  assert.match(out.text, /Red flags: none/);
  assert.match(out.text, /FLOOR_OUTSIDE_GUIDANCE/);
});

test('review command exits non-zero on red flags', async () => {
  const out = new Capture();
  const file = writeTemp(referenceJson((json) => (json.clauses.mostFavoredNation = true)));
  const status = await runReview([file, '--format', 'json'], out, new Capture());
  assert.equal(status, 1);
  const result = JSON.parse(out.text) as { redFlags: { code: string }[] };
  assert.deepEqual(codes(result.redFlags), ['MOST_FAVORED_NATION']);
});

test('review command reports invalid terms by path', async () => {
  const err = new Capture();
  const file = writeTemp(referenceJson((json) => (json.tiers[1].commitCredits = '10')));
  const status = await runReview([file], new Capture(), err);
  assert.equal(status, 1);
  assert.match(err.text, /tiers\[1\]\.commitCredits: must be larger/);
});

test('review command needs a file', async () => {
  const err = new Capture();
  assert.equal(await runReview([], new Capture(), err), 2);
  assert.match(err.text, /Missing TERMS\.json/);
});
