import net from 'node:net';
import { Writable } from 'node:stream';
import { simpleParser, type ParsedMail } from 'mailparser';
import pino, { type Logger } from 'pino';
import { SMTPServer } from 'smtp-server';
import { parseTerms } from '../../src/domain/terms';
import type { Terms } from '../../src/domain/terms-schema';

/**
 * Returns the reference deal without its prepaid block: growth and scale tiers, throttle
 * at the spend cap, a trigger at 150% of the commit for three consecutive periods.
 */
export function referenceTerms(overrides: { customerName?: string } = {}): Terms {
  return parseTerms({
    customer: { id: 'acme', name: overrides.customerName ?? 'Acme Corp', billingEmail: 'ap@acme.example' },
    accountManager: { name: 'Dana Reyes', email: 'dana@vendor.example' },
    currency: 'USD',
    timeZone: 'UTC',
    startDate: '2026-01-01',
    termMonths: 12,
    meters: [{ key: 'agent_task', unit: 'task', creditsPerUnit: '10' }],
    tiers: [
      { name: 'growth', commitCredits: '50000', pricePerCredit: '0.20', platformFee: '5000.00', spendCap: '25000.00' },
      { name: 'scale', commitCredits: '100000', pricePerCredit: '0.17', platformFee: '6000.00', spendCap: '40000.00' },
    ],
    initialTier: 'growth',
    overageMultiplier: '1.3',
    capPolicy: 'throttle',
    rollover: { fraction: '0.25', expiresAfterDays: 90 },
    trueUp: 'monthly',
    renegotiation: { basis: 'commit', thresholdPercent: '150', consecutivePeriods: 3, responseDays: 30 },
    alerts: { usagePercentOfCommit: ['80', '100'], spendPercentOfCap: ['90'], expiryNoticeDays: 14 },
  });
}

/** One message as the test SMTP server received it. */
export interface ReceivedMessage {
  /** RCPT TO addresses of the SMTP envelope. */
  envelopeTo: string[];
  parsed: ParsedMail;
}

/**
 * An SMTP server on 127.0.0.1 that keeps what it receives. It can stop listening and
 * listen again on the same port, to play an SMTP outage.
 */
export interface TestSmtpServer {
  readonly port: number;
  readonly url: string;
  readonly messages: ReceivedMessage[];
  /** Starts listening on `port` and resolves once connections are accepted. */
  listen(): Promise<void>;
  /** Stops listening and resolves once the port is closed. */
  stop(): Promise<void>;
  /** Returns how many received messages carry each Message-ID. */
  countByMessageId(): Map<string, number>;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export interface TestSmtpOptions {
  /** Recipients the server rejects with 550 at RCPT TO. */
  rejectRecipients?: string[];
  /**
   * Requires AUTH and rejects every login with this reply, where `{password}` is
   * replaced by the password the client sent, like a server that echoes its input.
   */
  rejectLoginWith?: string;
}

/**
 * Creates a test SMTP server: plain text (no TLS, no STARTTLS), no authentication unless
 * `rejectLoginWith` is set, listening only on 127.0.0.1. It does not listen until
 * `listen()` is called.
 */
export async function createTestSmtpServer(options: TestSmtpOptions = {}): Promise<TestSmtpServer> {
  const port = await freePort();
  const messages: ReceivedMessage[] = [];
  let server: SMTPServer | undefined;

  const build = () =>
    new SMTPServer({
      secure: false,
      authOptional: options.rejectLoginWith === undefined,
      allowInsecureAuth: true,
      disabledCommands: options.rejectLoginWith === undefined ? ['AUTH', 'STARTTLS'] : ['STARTTLS'],
      logger: false,
      closeTimeout: 1000,
      onAuth(auth, _session, callback) {
        const reply = (options.rejectLoginWith ?? 'Authentication rejected').replace('{password}', auth.password ?? '');
        callback(new Error(reply));
      },
      onRcptTo(address, _session, callback) {
        if (options.rejectRecipients?.includes(address.address)) {
          const error = Object.assign(new Error(`Mailbox ${address.address} does not exist`), { responseCode: 550 });
          callback(error);
          return;
        }
        callback();
      },
      onData(stream, session, callback) {
        const envelopeTo = session.envelope.rcptTo.map((recipient) => recipient.address);
        simpleParser(stream)
          .then((parsed) => {
            messages.push({ envelopeTo, parsed });
            callback();
          })
          .catch((error: Error) => callback(error));
      },
    });

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    async listen() {
      if (server) return;
      const created = build();
      await new Promise<void>((resolve, reject) => {
        created.once('error', reject);
        created.listen(port, '127.0.0.1', () => resolve());
      });
      server = created;
    },
    async stop() {
      const running = server;
      server = undefined;
      if (running) await new Promise<void>((resolve) => running.close(() => resolve()));
    },
    countByMessageId() {
      const counts = new Map<string, number>();
      for (const message of messages) {
        const id = message.parsed.messageId ?? '(none)';
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    },
  };
}

/** Creates a pino logger at level debug that keeps each JSON line it writes, parsed, in `lines`. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}
