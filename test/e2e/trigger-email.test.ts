import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createMailer } from '../../src/activities/mailer';
import { parseUsageCsv } from '../../src/cli/usage-csv';
import { ingestUsage } from '../../src/db/ingestion';
import { parseTerms, runSimulation, type PeriodStatement } from '../../src/domain';
import { createTestSmtpServer } from '../email/support';
import { silentLogger, startHarness } from '../support/harness';

const EXAMPLES = path.resolve(__dirname, '../../examples');

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// The worked example's contract starts on 2026-01-01, before the test server's clock, so
// its workflow catches up every elapsed close as soon as a worker runs. Its usage is
// ingested first, each event arriving at its own time, while every period is still open.
test('worked example emails the trigger once after May', { timeout: 300_000 }, async () => {
  const smtp = await createTestSmtpServer();
  await smtp.listen();
  const outboxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-unused-outbox-'));
  const mailer = createMailer({ smtpUrl: smtp.url, from: 'billing@trueup.test', outboxDir, logger: silentLogger });
  const h = await startHarness({ mailer });
  try {
    const terms = parseTerms(JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'worked-example-terms.json'), 'utf8')));
    const rows = parseUsageCsv(fs.readFileSync(path.join(EXAMPLES, 'worked-example-usage.csv'), 'utf8'));

    const created = await h.request('POST', '/v1/contracts', { terms }, 'sales');
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const contractId: string = created.body.id;
    const signed = await h.request('POST', `/v1/contracts/${contractId}/sign`, {}, 'sales');
    assert.equal(signed.status, 200, JSON.stringify(signed.body));

    for (const row of rows) {
      const outcome = await ingestUsage(h.db, {
        contractId,
        events: [{ eventId: row.eventId!, meter: row.meter, quantity: row.quantity, occurredAt: row.occurredAt }],
        arrivedAt: new Date(row.occurredAt),
        closeDelayMs: 3_600_000,
      });
      assert.notEqual(outcome.answers[0]?.status, 'rejected', JSON.stringify(outcome.answers[0]));
    }

    await h.startWorker();
    // Periods 0 to 10 (January to November 2026) have ended before the test server's clock.
    await waitFor(
      async () => {
        const row = await h.db
          .selectFrom('periods')
          .select('status')
          .where('contract_id', '=', contractId)
          .where('period_index', '=', 10)
          .executeTakeFirst();
        return row?.status === 'closed' ? true : undefined;
      },
      'the close of November',
    );
    await waitFor(
      async () => {
        const pending = await h.db
          .selectFrom('alerts')
          .select('alert_key')
          .where('contract_id', '=', contractId)
          .where('status', '<>', 'sent')
          .executeTakeFirst();
        return pending ? undefined : true;
      },
      'every alert to be sent',
    );

    const triggerKey = `${contractId}/4/renegotiation_trigger`;
    const alerts = await h.db
      .selectFrom('alerts')
      .select(['alert_key', 'kind', 'message_id', 'status'])
      .where('contract_id', '=', contractId)
      .where('kind', '=', 'renegotiation_trigger')
      .execute();
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]?.alert_key, triggerKey);
    assert.equal(alerts[0]?.status, 'sent');

    const triggerMails = smtp.messages.filter((m) => m.parsed.messageId === alerts[0]?.message_id);
    assert.equal(triggerMails.length, 1);
    const mail = triggerMails[0]!;
    assert.deepEqual(mail.envelopeTo, ['dana@vendor.example']);
    const text = mail.parsed.text ?? '';
    // Threshold 150% of 50,000 = 75,000 credits; March, April and May exceed it.
    assert.match(text, /80,000/);
    assert.match(text, /90,000/);
    assert.match(text, /85,000/);
    assert.match(text, /75,000/);
    assert.match(text, /2026-07-01/);

    // Every alert went out exactly once.
    for (const [messageId, count] of smtp.countByMessageId()) assert.equal(count, 1, `${messageId} arrived ${count} times`);

    // The live statements of January to November equal the simulator's on the same usage.
    const simulated = runSimulation(terms, rows).result.periods;
    const live = await h.db
      .selectFrom('periods')
      .select(['period_index', 'statement'])
      .where('contract_id', '=', contractId)
      .where('status', '=', 'closed')
      .orderBy('period_index')
      .execute();
    assert.equal(live.length, 11);
    for (const row of live) {
      const statement = row.statement as PeriodStatement;
      const expected = simulated[row.period_index]!;
      const { alerts: liveAlerts, ...liveFigures } = statement;
      const { alerts: simulatedAlerts, ...simulatedFigures } = expected;
      assert.deepEqual(liveFigures, simulatedFigures, `period ${row.period_index}`);
      assert.deepEqual(
        liveAlerts.map((a) => a.kind).sort(),
        simulatedAlerts.map((a) => a.kind).sort(),
        `alert kinds of period ${row.period_index}`,
      );
    }

    const april = live[3]!.statement as PeriodStatement;
    assert.equal(april.deferredCredits, '2000');
    assert.equal(april.charges.total, '24880.00');
    const may = live[4]!.statement as PeriodStatement;
    assert.equal(may.carriedInCredits, '2000');
    assert.equal(may.charges.total, '24620.00');
    assert.equal(may.trigger.fired, true);
    assert.equal(may.trigger.respondBy, '2026-07-01');
  } finally {
    await h.close();
    await smtp.stop();
    fs.rmSync(outboxDir, { recursive: true, force: true });
  }
});
