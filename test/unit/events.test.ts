import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attributeEvent, classifyRepeatedEvent, creditsOf, simulate, validateUsageEvent } from '../../src/domain';
import { referenceDeal, smallTerms } from './domain-fixtures';

test('credits are quantity times rate exactly', () => {
  const terms = referenceDeal();
  assert.equal(creditsOf(terms, 'agent_task', '100').toFixed(), '1000');
  assert.equal(creditsOf(terms, 'llm_input_token', '1234567').toFixed(), '1234.567');
  assert.equal(creditsOf(terms, 'llm_output_token', '0.1').toFixed(), '0.0004');
});

test('unknown meter and bad quantity are rejected', () => {
  const terms = referenceDeal();
  assert.throws(() => creditsOf(terms, 'gpu_hour', '1'), /Unknown meter "gpu_hour"/);
  assert.throws(() => creditsOf(terms, 'agent_task', '-1'), /must be a decimal number >= 0/);
  assert.throws(() => creditsOf(terms, 'agent_task', 'ten'), /must be a decimal number >= 0/);
});

test('event validation names each field', () => {
  const terms = referenceDeal();
  const now = new Date('2026-03-01T00:00:00Z');
  const rules = (event: Parameters<typeof validateUsageEvent>[1]) => {
    const result = validateUsageEvent(terms, event, now);
    return result.ok ? [] : result.issues.map((issue) => `${issue.path}:${issue.rule}`);
  };
  const valid = { eventId: 'e1', meter: 'agent_task', quantity: '2', occurredAt: '2026-02-01T10:00:00+02:00' };
  assert.deepEqual(rules(valid), []);
  assert.deepEqual(rules({ ...valid, meter: 'x' }), ['meter:known_meter']);
  assert.deepEqual(rules({ ...valid, quantity: '-2' }), ['quantity:quantity']);
  assert.deepEqual(rules({ ...valid, occurredAt: '2026-02-01T10:00:00' }), ['occurredAt:instant_with_offset']);
  assert.deepEqual(rules({ ...valid, occurredAt: '2026-03-01T00:05:01Z' }), ['occurredAt:not_future']);
  assert.deepEqual(rules({ ...valid, occurredAt: '2025-12-31T23:59:59Z' }), ['occurredAt:after_start']);
  assert.deepEqual(rules({ ...valid, eventId: '' }), ['eventId:event_id']);
  assert.deepEqual(rules({ ...valid, eventId: 'x'.repeat(201) }), ['eventId:event_id']);
});

test('event validation returns credits', () => {
  const result = validateUsageEvent(referenceDeal(), { eventId: 'e1', meter: 'agent_task', quantity: '2', occurredAt: '2026-02-01T10:00:00Z' }, new Date('2026-03-01T00:00:00Z'));
  assert.ok(result.ok);
  assert.equal(result.event.credits, '20');
});

test('repeated event with same content is a duplicate', () => {
  const stored = { meter: 'agent_task', quantity: '100', occurredAt: '2026-01-05T10:00:00Z' };
  assert.equal(classifyRepeatedEvent(stored, { meter: 'agent_task', quantity: '100.0', occurredAt: '2026-01-05T12:00:00+02:00' }), 'duplicate');
  assert.equal(classifyRepeatedEvent(stored, { ...stored, quantity: '101' }), 'conflict');
  assert.equal(classifyRepeatedEvent(stored, { ...stored, meter: 'llm_input_token' }), 'conflict');
  assert.equal(classifyRepeatedEvent(stored, { ...stored, occurredAt: '2026-01-05T10:00:01Z' }), 'conflict');
});

test('simulation counts a duplicate once', () => {
  const rows = [
    { occurredAt: '2026-01-05T10:00:00Z', meter: 'unit', quantity: '30', eventId: 'a' },
    { occurredAt: '2026-01-05T10:00:00Z', meter: 'unit', quantity: '30', eventId: 'a' },
    { occurredAt: '2026-01-05T10:00:00Z', meter: 'unit', quantity: '31', eventId: 'a' },
  ];
  const result = simulate(smallTerms(), rows);
  assert.equal(result.periods[0]?.demandCredits, '30');
  assert.equal(result.events.duplicates, 1);
  assert.equal(result.events.rejected.length, 1);
  assert.equal(result.events.rejected[0]?.row, 3);
  assert.match(result.events.rejected[0]?.reason ?? '', /repeats row 1/);
});

test('late event moves to the open period', () => {
  const terms = referenceDeal();
  const occurred = new Date('2026-01-31T23:00:00Z');
  const arrived = new Date('2026-02-03T08:00:00Z');
  assert.deepEqual(attributeEvent(terms, occurred, arrived, 0), { periodIndex: 1, consumedAt: '2026-02-03T08:00:00.000Z', late: true });
  assert.deepEqual(attributeEvent(terms, occurred, new Date('2026-02-01T00:30:00Z'), undefined), {
    periodIndex: 0,
    consumedAt: '2026-01-31T23:00:00.000Z',
    late: false,
  });
});

test('late event after the term has nowhere to go', () => {
  const terms = referenceDeal();
  assert.equal(attributeEvent(terms, new Date('2026-12-31T23:00:00Z'), new Date('2027-01-01T02:00:00Z'), 11), undefined);
});

test('simulation rejects rows outside the term', () => {
  const result = simulate(smallTerms(), [
    { occurredAt: '2025-12-31T23:59:59Z', meter: 'unit', quantity: '1' },
    { occurredAt: '2026-07-01T00:00:00Z', meter: 'unit', quantity: '1' },
    { occurredAt: '2026-01-02T00:00:00', meter: 'unit', quantity: '1' },
    { occurredAt: '2026-01-02T00:00:00Z', meter: 'nope', quantity: '1' },
  ]);
  assert.deepEqual(result.events.rejected.map((row) => row.row), [1, 2, 3, 4]);
  assert.match(result.events.rejected[0]?.reason ?? '', /before the contract starts/);
  assert.match(result.events.rejected[1]?.reason ?? '', /at or after the contract ends/);
  assert.match(result.events.rejected[2]?.reason ?? '', /with an offset/);
  assert.match(result.events.rejected[3]?.reason ?? '', /Unknown meter "nope"/);
});

test('simulation orders rows by time then id then row', () => {
  // Both rows fall at the same instant; "a" arrives first and fills the cap.
  const rows = [
    { occurredAt: '2026-01-05T10:00:00Z', meter: 'unit', quantity: '40', eventId: 'b' },
    { occurredAt: '2026-01-05T10:00:00Z', meter: 'unit', quantity: '150', eventId: 'a' },
  ];
  const result = simulate(smallTerms(), rows);
  assert.equal(result.periods[0]?.consumedCredits, '150');
  assert.equal(result.periods[0]?.deferredCredits, '40');
});
