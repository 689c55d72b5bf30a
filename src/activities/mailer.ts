import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';

export interface OutgoingMessage {
  /** Stable per alert key, so a message sent twice can be recognised as one. */
  messageId: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
}

/** Outcome of a message the transport accepted. */
export interface SendResult {
  /** Recipients the transport accepted. */
  accepted: string[];
  /** Recipients the SMTP server rejected while it accepted the message for the others. */
  rejected: string[];
  /** Destination of the message: the `.eml` file, or the SMTP server and its final reply. */
  location: string;
}

export interface Mailer {
  /**
   * Sends one message. Throws a `MailerError` when the transport accepts it for no
   * recipient. A message accepted for some recipients resolves and lists the others as
   * rejected.
   */
  send(message: OutgoingMessage): Promise<SendResult>;
  /** Destination of messages, for logs: an SMTP server or the outbox folder. */
  readonly destination: string;
  close(): void;
}

/** Timeouts of an SMTP connection in milliseconds. A `SMTP_URL` query parameter of the same name overrides each. */
export const SMTP_TIMEOUTS_MS = Object.freeze({
  /** Time to open the TCP connection, so a server that drops packets fails fast. */
  connectionTimeout: 10_000,
  /** Time from connecting to the server's greeting. */
  greetingTimeout: 10_000,
  /** Time of inactivity on an open connection. */
  socketTimeout: 30_000,
  /** Time to resolve the server's host name. */
  dnsTimeout: 10_000,
});

/** A failed send. Its message names the error code and the SMTP reply, with the credentials of `SMTP_URL` masked. */
export class MailerError extends Error {
  constructor(
    message: string,
    /** nodemailer's error code, such as ECONNECTION, ETIMEDOUT, EAUTH or EENVELOPE. */
    readonly code: string | undefined,
    /** The SMTP reply code, such as 550, when the server rejected the message. */
    readonly responseCode: number | undefined,
  ) {
    super(message);
    this.name = 'MailerError';
  }
}

/**
 * Creates the mailer: SMTP at `smtpUrl` when given, otherwise `.eml` files in
 * `outboxDir`, one per Message-ID, so a repeated send overwrites its own file.
 *
 * `smtpUrl` uses nodemailer's URL syntax:
 * - `smtp://host:587`: plain connection, upgraded by STARTTLS when the server offers it;
 * - `smtp://host:587?requireTLS=true`: the send fails unless STARTTLS succeeds;
 * - `smtps://host:465`: TLS from the first byte;
 * - `smtp://user:pass@host:587`: AUTH, with user and password percent-encoded;
 * - `tls.`-prefixed parameters set Node's TLS options, such as `tls.servername=mail.example`.
 */
export function createMailer(options: { smtpUrl?: string; from: string; outboxDir: string; logger: Logger }): Mailer {
  if (options.smtpUrl) return smtpMailer(options.smtpUrl, options.from, options.logger);
  return outboxMailer(options.outboxDir, options.from, options.logger);
}

function smtpMailer(smtpUrl: string, from: string, logger: Logger): Mailer {
  const url = new URL(smtpUrl);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error(`Invalid SMTP_URL: expected the scheme smtp:// or smtps://, got "${url.protocol}//".`);
  }
  const secrets = [url.password, safeDecode(url.password), url.username, safeDecode(url.username)].filter((value) => value.length >= 3);
  const transport: Transporter = nodemailer.createTransport({ url: smtpUrl, ...SMTP_TIMEOUTS_MS });
  const destination = `${url.protocol}//${url.hostname}:${url.port || (url.protocol === 'smtps:' ? '465' : '587')}`;
  logger.info({ destination }, 'emails are sent by SMTP');
  return {
    destination,
    async send(message) {
      try {
        const info = await transport.sendMail({ from, ...message, messageId: message.messageId });
        return { accepted: addressList(info.accepted), rejected: addressList(info.rejected), location: `${destination} ${info.response}` };
      } catch (error) {
        throw toMailerError(error, secrets);
      }
    },
    close: () => transport.close(),
  };
}

function outboxMailer(outboxDir: string, from: string, logger: Logger): Mailer {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  logger.info({ outboxDir }, 'SMTP_URL is unset: emails are written as .eml files to the outbox folder');
  return {
    destination: outboxDir,
    async send(message) {
      const info = await transport.sendMail({ from, ...message, messageId: message.messageId });
      await fs.mkdir(outboxDir, { recursive: true });
      const file = path.join(outboxDir, outboxFileName(message.messageId));
      // Write then rename, so a crash never leaves a half-written message in the outbox.
      const partial = `${file}.${process.pid}.partial`;
      await fs.writeFile(partial, info.message as Buffer);
      await fs.rename(partial, file);
      return { accepted: [...message.to], rejected: [], location: file };
    },
    close: () => transport.close(),
  };
}

/** Returns the outbox file name of a Message-ID: `<id@host>` becomes `id@host.eml`. */
export function outboxFileName(messageId: string): string {
  return `${messageId.replace(/^<|>$/g, '').replace(/[^A-Za-z0-9._@-]+/g, '_')}.eml`;
}

function addressList(addresses: unknown): string[] {
  if (!Array.isArray(addresses)) return [];
  return addresses.map((entry) => (typeof entry === 'string' ? entry : String((entry as { address?: string }).address ?? entry)));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function toMailerError(error: unknown, secrets: readonly string[]): MailerError {
  const details = error as { message?: unknown; code?: unknown; responseCode?: unknown };
  let message = typeof details.message === 'string' ? details.message : String(error);
  for (const secret of secrets) message = message.split(secret).join('***');
  const code = typeof details.code === 'string' ? details.code : undefined;
  const responseCode = typeof details.responseCode === 'number' ? details.responseCode : undefined;
  return new MailerError(code !== undefined && !message.includes(code) ? `${code}: ${message}` : message, code, responseCode);
}
