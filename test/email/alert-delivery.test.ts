import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { AlertDeliveryError, deliverPendingAlerts } from '../../src/activities/alert-delivery';
import { createMailer, outboxFileName, type Mailer } from '../../src/activities/mailer';
import { alertMessageId, listAlerts, storeAlerts, type StoredAlert } from '../../src/db/alerts';
import { createDb, type Db } from '../../src/db/connection';
import { createDraft } from '../../src/db/contracts';
import { migrateToLatest } from '../../src/db/migrate';
import { spendThresholdAlert, unbilledDeferredAlert, usageThresholdAlert, type AlertToRaise } from '../../src/domain/alerts';
import { tierByName } from '../../src/domain/terms';
import type { Terms } from '../../src/domain/terms-schema';
import { testDatabase, type TestDatabase } from '../support/postgres';
import { captureLogger, createTestSmtpServer, referenceTerms, type TestSmtpServer } from './support';

const FROM = 'trueup <billing@trueup.localhost>';
const PUBLIC_URL = 'http://127.0.0.1:3000';
const NOW = new Date('2026-06-01T01:00:00.000Z');

describe('alert delivery', () => {
  let database: TestDatabase;
  let db: Db;
  /** Cleanups of the running test, run in reverse order after it. */
  let cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    database = await testDatabase();
    db = createDb(database.url);
    await migrateToLatest(db);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });

  after(async () => {
    await db?.destroy();
    await database?.drop();
  });

  async function smtpServer(): Promise<TestSmtpServer> {
    const server = await createTestSmtpServer();
    cleanups.push(() => server.stop());
    return server;
  }

  function smtpMailer(server: TestSmtpServer, logger = captureLogger().logger): Mailer {
    const mailer = createMailer({ smtpUrl: server.url, from: FROM, outboxDir: '/nonexistent', logger });
    cleanups.push(() => mailer.close());
    return mailer;
  }

  /** Stores a draft contract and three of its alerts: one to the account manager, two to both recipients. */
  async function contractWithAlerts(terms: Terms = referenceTerms()): Promise<{ contractId: string; alerts: AlertToRaise[] }> {
    const contractId = await createDraft(db, terms, 'test');
    const growth = tierByName(terms, 'growth');
    const alerts = [
      usageThresholdAlert(terms, contractId, 2, growth, '80'),
      spendThresholdAlert(terms, contractId, 3, growth, '90'),
      unbilledDeferredAlert(terms, contractId, 11, '2000'),
    ];
    assert.equal((await storeAlerts(db, contractId, alerts)).length, alerts.length);
    return { contractId, alerts };
  }

  async function storedByKey(contractId: string): Promise<Map<string, StoredAlert>> {
    const rows = await listAlerts(db, { contractId, limit: 100 });
    return new Map(rows.map((row) => [row.key, row]));
  }

  test('sends each alert once', async () => {
    const server = await smtpServer();
    await server.listen();
    const { logger, lines } = captureLogger();
    const { contractId, alerts } = await contractWithAlerts();
    const deps = { db, mailer: smtpMailer(server), logger, publicUrl: PUBLIC_URL };

    const report = await deliverPendingAlerts(deps, contractId, NOW);
    const keys = alerts.map((alert) => alert.key).sort();
    assert.deepEqual(report, { sent: keys, failed: [] });
    assert.equal(server.messages.length, 3);

    for (const alert of alerts) {
      const received = server.messages.filter((message) => message.parsed.messageId === alertMessageId(alert.key));
      assert.equal(received.length, 1, `one message for ${alert.key}`);
      assert.deepEqual(received[0]?.envelopeTo, alert.recipients, `envelope recipients of ${alert.key}`);
      assert.equal(received[0]?.parsed.from?.value[0]?.address, 'billing@trueup.localhost');
      assert.match(received[0]?.parsed.subject ?? '', /^Acme Corp: /);
      assert.ok(received[0]?.parsed.html, `HTML part of ${alert.key}`);
    }
    const unbilled = server.messages.find((message) => message.parsed.messageId === alertMessageId(alerts[2]!.key));
    assert.ok(unbilled?.parsed.text?.includes('ended with 2,000 credits of usage still deferred'), unbilled?.parsed.text);

    const stored = await storedByKey(contractId);
    for (const alert of alerts) {
      const row = stored.get(alert.key);
      assert.equal(row?.status, 'sent');
      assert.equal(row?.attempts, 1);
      assert.equal(row?.sentAt, NOW.toISOString());
      assert.equal(row?.lastError, null);
    }

    const sentLines = lines.filter((line) => line.msg === 'alert email sent');
    assert.equal(sentLines.length, 3);
    for (const line of sentLines) assert.equal(line.contractId, contractId);

    const again = await deliverPendingAlerts(deps, contractId, new Date(NOW.getTime() + 60_000));
    assert.deepEqual(again, { sent: [], failed: [] });
    assert.equal(server.messages.length, 3);
  });

  test('each recipient receives it once', async () => {
    const server = await smtpServer();
    await server.listen();
    const terms = referenceTerms();
    // The account manager also receives the customer's billing email.
    const sameAddress: Terms = { ...terms, customer: { ...terms.customer, billingEmail: 'DANA@vendor.example' } };
    const contractId = await createDraft(db, sameAddress, 'test');
    const alert = usageThresholdAlert(sameAddress, contractId, 2, tierByName(sameAddress, 'growth'), '100');
    await storeAlerts(db, contractId, [alert]);

    await deliverPendingAlerts({ db, mailer: smtpMailer(server), logger: captureLogger().logger, publicUrl: PUBLIC_URL }, contractId, NOW);
    assert.equal(server.messages.length, 1);
    assert.deepEqual(server.messages[0]?.envelopeTo, ['dana@vendor.example']);
  });

  test('rejected recipient noted on sent alert', async () => {
    const server = await createTestSmtpServer({ rejectRecipients: ['ap@acme.example'] });
    cleanups.push(() => server.stop());
    await server.listen();
    const { logger, lines } = captureLogger();
    const terms = referenceTerms();
    const contractId = await createDraft(db, terms, 'test');
    const alert = usageThresholdAlert(terms, contractId, 2, tierByName(terms, 'growth'), '80');
    await storeAlerts(db, contractId, [alert]);

    const report = await deliverPendingAlerts({ db, mailer: smtpMailer(server), logger, publicUrl: PUBLIC_URL }, contractId, NOW);
    assert.deepEqual(report.sent, [alert.key]);
    assert.deepEqual(server.messages[0]?.envelopeTo, ['dana@vendor.example']);
    const row = (await storedByKey(contractId)).get(alert.key);
    assert.equal(row?.status, 'sent');
    assert.equal(row?.lastError, 'The SMTP server rejected these recipients: ap@acme.example.');
    const warning = lines.find((line) => line.msg === 'alert email sent, but some recipients were rejected');
    assert.deepEqual(warning?.rejected, ['ap@acme.example']);
    assert.equal(warning?.contractId, contractId);
  });

  test('SMTP outage then recovery', async () => {
    const server = await smtpServer();
    const { logger, lines } = captureLogger();
    const { contractId, alerts } = await contractWithAlerts();
    const deps = { db, mailer: smtpMailer(server), logger, publicUrl: PUBLIC_URL };
    const keys = alerts.map((alert) => alert.key).sort();

    // The server is not listening yet: every alert fails, is recorded, and the call throws.
    for (const attempt of [1, 2]) {
      await assert.rejects(deliverPendingAlerts(deps, contractId, NOW), (error: unknown) => {
        assert.ok(error instanceof AlertDeliveryError);
        assert.deepEqual(error.report.sent, []);
        assert.deepEqual(error.report.failed.map((failure) => failure.key), keys);
        assert.match(error.message, /Email delivery failed for 3 alert\(s\) of contract/);
        return true;
      });
      const stored = await storedByKey(contractId);
      for (const key of keys) {
        assert.equal(stored.get(key)?.status, 'failed');
        assert.equal(stored.get(key)?.attempts, attempt);
        assert.match(stored.get(key)?.lastError ?? '', /ECONNREFUSED/);
        assert.equal(stored.get(key)?.sentAt, null);
      }
    }
    const failureLines = lines.filter((line) => line.msg === 'alert email failed; it is retried');
    assert.equal(failureLines.length, 6);
    for (const line of failureLines) {
      assert.equal(line.contractId, contractId);
      assert.ok(keys.includes(line.key as string), `log line names the key: ${JSON.stringify(line)}`);
      assert.match(line.error as string, /ECONNREFUSED/);
    }

    // The server comes up: every alert arrives once.
    await server.listen();
    const report = await deliverPendingAlerts(deps, contractId, NOW);
    assert.deepEqual(report.sent, keys);
    const stored = await storedByKey(contractId);
    for (const key of keys) {
      assert.equal(stored.get(key)?.status, 'sent');
      assert.equal(stored.get(key)?.attempts, 3);
      assert.equal(stored.get(key)?.lastError, null);
    }

    // The server stops again while a new alert is pending, then comes back.
    const terms = referenceTerms();
    const late = usageThresholdAlert(terms, contractId, 4, tierByName(terms, 'growth'), '100');
    await storeAlerts(db, contractId, [late]);
    await server.stop();
    await assert.rejects(deliverPendingAlerts(deps, contractId, NOW), AlertDeliveryError);
    assert.equal((await storedByKey(contractId)).get(late.key)?.status, 'failed');
    await server.listen();
    assert.deepEqual((await deliverPendingAlerts(deps, contractId, NOW)).sent, [late.key]);
    assert.deepEqual(await deliverPendingAlerts(deps, contractId, NOW), { sent: [], failed: [] });

    const counts = server.countByMessageId();
    assert.equal(counts.size, 4);
    for (const key of [...keys, late.key]) assert.equal(counts.get(alertMessageId(key)), 1, `messages with the Message-ID of ${key}`);
  });

  test('crash after send repeats Message-ID', async () => {
    const server = await smtpServer();
    const { contractId, alerts } = await contractWithAlerts();
    await server.listen();
    const real = smtpMailer(server);
    // The transport accepts the message, then the worker "crashes" before the outcome is recorded.
    let crashes = 1;
    const crashing: Mailer = {
      destination: real.destination,
      close: () => real.close(),
      async send(message) {
        const result = await real.send(message);
        if (crashes > 0) {
          crashes -= 1;
          throw new Error('worker stopped after the send');
        }
        return result;
      },
    };
    const deps = { db, mailer: crashing, logger: captureLogger().logger, publicUrl: PUBLIC_URL };
    const first = alerts.map((alert) => alert.key).sort()[0]!;

    await assert.rejects(deliverPendingAlerts(deps, contractId, NOW), AlertDeliveryError);
    assert.equal(server.messages.length, 3);
    assert.deepEqual(await deliverPendingAlerts(deps, contractId, NOW), { sent: [first], failed: [] });

    assert.equal(server.messages.length, 4);
    const copies = server.messages.filter((message) => message.parsed.messageId === alertMessageId(first));
    assert.equal(copies.length, 2);
    assert.equal(server.countByMessageId().size, 3, 'no message gets a second Message-ID');
    assert.equal(copies[0]?.parsed.subject, copies[1]?.parsed.subject);
    const row = (await storedByKey(contractId)).get(first);
    assert.equal(row?.status, 'sent');
    assert.equal(row?.attempts, 2);
  });

  test('customer name escaped in HTML', async () => {
    const server = await smtpServer();
    await server.listen();
    const hostile = '<script>alert(1)</script> Corp';
    const terms = referenceTerms({ customerName: hostile });
    const contractId = await createDraft(db, terms, 'test');
    await storeAlerts(db, contractId, [unbilledDeferredAlert(terms, contractId, 11, '2000')]);

    await deliverPendingAlerts({ db, mailer: smtpMailer(server), logger: captureLogger().logger, publicUrl: PUBLIC_URL }, contractId, NOW);
    const received = server.messages[0]?.parsed;
    assert.ok(received);
    const html = typeof received.html === 'string' ? received.html : '';
    assert.ok(!html.includes('<script>'), html);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; Corp'), html);
    assert.equal(received.subject, `${hostile}: 2,000 credits of deferred usage left unbilled at contract end`);
  });

  test('outbox writes one file per alert', async () => {
    const outboxDir = await fs.mkdtemp(path.join(os.tmpdir(), 'trueup-outbox-'));
    cleanups.push(() => fs.rm(outboxDir, { recursive: true, force: true }));
    const { logger, lines } = captureLogger();
    const mailer = createMailer({ from: FROM, outboxDir, logger });
    cleanups.push(() => mailer.close());
    const { contractId, alerts } = await contractWithAlerts();

    assert.ok(lines.some((line) => line.outboxDir === outboxDir && /SMTP_URL is unset/.test(line.msg as string)), 'startup line names the outbox');
    const report = await deliverPendingAlerts({ db, mailer, logger, publicUrl: PUBLIC_URL }, contractId, NOW);
    assert.equal(report.sent.length, 3);

    const files = (await fs.readdir(outboxDir)).sort();
    assert.deepEqual(files, alerts.map((alert) => outboxFileName(alertMessageId(alert.key))).sort());
    for (const alert of alerts) {
      const file = path.join(outboxDir, outboxFileName(alertMessageId(alert.key)));
      const parsed = await simpleParser(await fs.readFile(file));
      assert.equal(parsed.messageId, alertMessageId(alert.key));
      assert.match(parsed.subject ?? '', /^Acme Corp: /);
      const line = lines.find((entry) => entry.msg === 'alert email sent' && entry.key === alert.key);
      assert.equal(line?.location, file, 'log line says where the message was written');
      assert.equal(line?.contractId, contractId);
    }

    assert.deepEqual(await deliverPendingAlerts({ db, mailer, logger, publicUrl: PUBLIC_URL }, contractId, NOW), { sent: [], failed: [] });
    assert.equal((await fs.readdir(outboxDir)).length, 3);
  });

  test('concurrent deliveries send once', async () => {
    const server = await smtpServer();
    await server.listen();
    const { contractId, alerts } = await contractWithAlerts();
    const deps = { db, mailer: smtpMailer(server), logger: captureLogger().logger, publicUrl: PUBLIC_URL };

    const reports = await Promise.all([deliverPendingAlerts(deps, contractId, NOW), deliverPendingAlerts(deps, contractId, NOW)]);
    const sent = reports.flatMap((report) => report.sent).sort();
    assert.deepEqual(sent, alerts.map((alert) => alert.key).sort());
    assert.equal(server.messages.length, 3);
  });
});
