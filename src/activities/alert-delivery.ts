import type { Logger } from 'pino';
import type { Db } from '../db/connection';
import { claimAlertForDelivery, pendingAlerts, recordAlertFailed, recordAlertSent, type StoredAlert } from '../db/alerts';
import { termsInForce } from '../db/contracts';
import type { Terms } from '../domain/terms-schema';
import { renderAlertMessage, type AlertMessage } from './alert-messages';
import type { Mailer } from './mailer';

export interface AlertDeliveryDeps {
  db: Db;
  mailer: Mailer;
  logger: Logger;
  /** Public base URL of the API, for the links in the messages. */
  publicUrl: string;
}

export interface DeliveryReport {
  /** Keys of the alerts sent by this call, in key order. */
  sent: string[];
  /** Alerts whose attempt failed in this call, with the error stored for each. */
  failed: { key: string; error: string }[];
}

/** Thrown when some alerts of a contract could not be sent, so that the calling activity is retried. */
export class AlertDeliveryError extends Error {
  constructor(
    readonly contractId: string,
    readonly report: DeliveryReport,
  ) {
    const list = report.failed.map((failure) => `${failure.key} (${failure.error})`).join('; ');
    super(
      `Email delivery failed for ${report.failed.length} alert(s) of contract ${contractId}: ${list}. ` +
        'They are stored as failed and are sent on the next attempt.',
    );
    this.name = 'AlertDeliveryError';
  }
}

/**
 * Sends every pending or failed alert of a contract by email, in key order, and
 * records each outcome: `sent` with one more attempt and `sentAt = now`, or `failed`
 * with one more attempt and the error. A failure is logged and the other alerts are
 * still sent. When any alert failed, throws an `AlertDeliveryError` listing them after
 * all were tried, so that the calling Temporal activity is retried with backoff.
 *
 * An alert already sent is never sent again: each alert is claimed under a row lock
 * that is held until its outcome is recorded, so two deliveries running at once skip
 * each other's alerts. A crash after the transport accepted a message but before the
 * outcome was recorded sends it again on the next call, with the same Message-ID.
 */
export async function deliverPendingAlerts(deps: AlertDeliveryDeps, contractId: string, now: Date): Promise<DeliveryReport> {
  const log = deps.logger.child({ contractId });
  const report: DeliveryReport = { sent: [], failed: [] };
  const candidates = await pendingAlerts(deps.db, contractId);
  if (candidates.length === 0) return report;

  const termsByPeriod = new Map<number, Terms>();
  const termsFor = async (periodIndex: number): Promise<Terms> => {
    let terms = termsByPeriod.get(periodIndex);
    if (terms === undefined) {
      terms = (await termsInForce(deps.db, contractId, periodIndex)).terms;
      termsByPeriod.set(periodIndex, terms);
    }
    return terms;
  };

  for (const candidate of candidates) {
    const terms = await termsFor(candidate.periodIndex ?? 0);
    const outcome = await deliverOne(deps, log, candidate, terms, now);
    if (outcome.status === 'sent') report.sent.push(candidate.key);
    if (outcome.status === 'failed') report.failed.push({ key: candidate.key, error: outcome.error });
  }

  if (report.failed.length > 0) throw new AlertDeliveryError(contractId, report);
  return report;
}

type Outcome = { status: 'sent' } | { status: 'failed'; error: string } | { status: 'skipped' };

/** Claims, sends and records one alert in one transaction, so the row lock covers the send. */
async function deliverOne(deps: AlertDeliveryDeps, log: Logger, candidate: StoredAlert, terms: Terms, now: Date): Promise<Outcome> {
  return deps.db.transaction().execute(async (trx): Promise<Outcome> => {
    const alert = await claimAlertForDelivery(trx, candidate.key);
    if (alert === undefined) {
      log.debug({ key: candidate.key }, 'alert skipped: already sent or being sent by another delivery');
      return { status: 'skipped' };
    }

    let message: AlertMessage;
    try {
      message = renderAlertMessage(alert, {
        contractId: alert.contractId,
        customerName: terms.customer.name,
        currency: terms.currency,
        terms,
        publicUrl: deps.publicUrl,
      });
    } catch (error) {
      return recordFailure(trx, log, alert, `Rendering the message failed: ${errorMessage(error)}`);
    }

    const to = uniqueAddresses(alert.recipients);
    if (to.length === 0) return recordFailure(trx, log, alert, 'The alert has no recipients.');

    let result;
    try {
      result = await deps.mailer.send({ messageId: alert.messageId, to, ...message });
    } catch (error) {
      return recordFailure(trx, log, alert, errorMessage(error));
    }

    const note = result.rejected.length > 0 ? `The SMTP server rejected these recipients: ${result.rejected.join(', ')}.` : null;
    await recordAlertSent(trx, alert.key, now, note);
    const fields = { key: alert.key, kind: alert.kind, messageId: alert.messageId, to, attempt: alert.attempts + 1, location: result.location };
    if (note !== null) log.warn({ ...fields, rejected: result.rejected }, 'alert email sent, but some recipients were rejected');
    else log.info(fields, 'alert email sent');
    return { status: 'sent' };
  });
}

async function recordFailure(trx: Parameters<typeof recordAlertFailed>[0], log: Logger, alert: StoredAlert, error: string): Promise<Outcome> {
  await recordAlertFailed(trx, alert.key, error);
  log.error({ key: alert.key, kind: alert.kind, messageId: alert.messageId, attempt: alert.attempts + 1, error }, 'alert email failed; it is retried');
  return { status: 'failed', error };
}

function uniqueAddresses(addresses: readonly string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((address) => {
    const normalized = address.trim().toLowerCase();
    if (normalized === '' || seen.has(normalized)) return false;
    seen.add(normalized);
    return true;
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
