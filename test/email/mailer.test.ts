import assert from 'node:assert/strict';
import net from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { createMailer, MailerError, outboxFileName, type OutgoingMessage } from '../../src/activities/mailer';
import { captureLogger, createTestSmtpServer, freePort } from './support';

const FROM = 'trueup <billing@trueup.localhost>';

function message(to: string[]): OutgoingMessage {
  return {
    messageId: '<0123456789abcdef0123456789abcdef@trueup.alerts>',
    to,
    subject: 'Acme Corp: test',
    text: 'Plain text body.\n',
    html: '<p>HTML body.</p>',
  };
}

describe('mailer', () => {
  let cleanups: (() => Promise<void> | void)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });

  test('SMTP error masks the password', async () => {
    const server = await createTestSmtpServer({ rejectLoginWith: 'Login rejected for password {password}' });
    cleanups.push(() => server.stop());
    await server.listen();
    const password = 'Sup3r-s3cret';
    const mailer = createMailer({
      smtpUrl: `smtp://alerts:${password}@127.0.0.1:${server.port}`,
      from: FROM,
      outboxDir: '/nonexistent',
      logger: captureLogger().logger,
    });
    cleanups.push(() => mailer.close());

    await assert.rejects(mailer.send(message(['dana@vendor.example'])), (error: unknown) => {
      assert.ok(error instanceof MailerError);
      assert.equal(error.code, 'EAUTH');
      assert.ok(!error.message.includes(password), error.message);
      assert.match(error.message, /Login rejected for password \*\*\*/);
      return true;
    });
    assert.equal(server.messages.length, 0);
  });

  test('silent server times out', async () => {
    // Accepts TCP connections but never sends the SMTP greeting.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const mailer = createMailer({
      smtpUrl: `smtp://127.0.0.1:${port}?greetingTimeout=300`,
      from: FROM,
      outboxDir: '/nonexistent',
      logger: captureLogger().logger,
    });
    cleanups.push(() => mailer.close());

    const started = Date.now();
    await assert.rejects(mailer.send(message(['dana@vendor.example'])), (error: unknown) => {
      assert.ok(error instanceof MailerError);
      assert.equal(error.code, 'ETIMEDOUT');
      return true;
    });
    assert.ok(Date.now() - started < 5000, `the send failed after ${Date.now() - started} ms`);
  });

  test('requireTLS rejects a plain server', async () => {
    const server = await createTestSmtpServer();
    cleanups.push(() => server.stop());
    await server.listen();
    const mailer = createMailer({
      smtpUrl: `smtp://127.0.0.1:${server.port}?requireTLS=true`,
      from: FROM,
      outboxDir: '/nonexistent',
      logger: captureLogger().logger,
    });
    cleanups.push(() => mailer.close());

    await assert.rejects(mailer.send(message(['dana@vendor.example'])), MailerError);
    assert.equal(server.messages.length, 0);
  });

  test('rejected recipient is reported', async () => {
    const server = await createTestSmtpServer({ rejectRecipients: ['gone@acme.example'] });
    cleanups.push(() => server.stop());
    await server.listen();
    const mailer = createMailer({ smtpUrl: server.url, from: FROM, outboxDir: '/nonexistent', logger: captureLogger().logger });
    cleanups.push(() => mailer.close());

    const result = await mailer.send(message(['dana@vendor.example', 'gone@acme.example']));
    assert.deepEqual(result.accepted, ['dana@vendor.example']);
    assert.deepEqual(result.rejected, ['gone@acme.example']);
    assert.match(result.location, new RegExp(`^smtp://127\\.0\\.0\\.1:${server.port} 250`));
    assert.equal(server.messages.length, 1);
    assert.deepEqual(server.messages[0]?.envelopeTo, ['dana@vendor.example']);
  });

  test('every recipient rejected fails', async () => {
    const server = await createTestSmtpServer({ rejectRecipients: ['gone@acme.example'] });
    cleanups.push(() => server.stop());
    await server.listen();
    const mailer = createMailer({ smtpUrl: server.url, from: FROM, outboxDir: '/nonexistent', logger: captureLogger().logger });
    cleanups.push(() => mailer.close());

    await assert.rejects(mailer.send(message(['gone@acme.example'])), (error: unknown) => {
      assert.ok(error instanceof MailerError);
      assert.equal(error.code, 'EENVELOPE');
      assert.equal(error.responseCode, 550);
      return true;
    });
  });

  test('non-SMTP URL is rejected', () => {
    assert.throws(
      () => createMailer({ smtpUrl: 'http://127.0.0.1:25', from: FROM, outboxDir: '/nonexistent', logger: captureLogger().logger }),
      /Invalid SMTP_URL: expected the scheme smtp:\/\/ or smtps:\/\//,
    );
  });

  test('outbox file name from Message-ID', () => {
    assert.equal(outboxFileName('<abc123@trueup.alerts>'), 'abc123@trueup.alerts.eml');
    assert.equal(outboxFileName('<a/../b@x>'), 'a_.._b@x.eml');
  });
});
