import { Router, type Response } from 'express';
import { admissionCharges, formatCharges } from '../../domain';
import { listAlerts } from '../../db/alerts';
import { listAuditEntries, listPeriodRecords, type PeriodRecord } from '../../db/api-reads';
import { findContract, listTermsVersions, termsInForce } from '../../db/contracts';
import { listInvoices } from '../../db/invoices';
import type { ApiDeps } from '../app';
import { ROUTES } from '../catalog';
import { HTML_PAGE_CSP } from '../html';
import { renderInvoiceHtml } from '../invoice-html';
import { notFound, parseRequestPart } from '../problem';
import { mount } from '../route-spec';
import {
  AlertListQuery,
  AuditListQuery,
  ContractIdParams,
  EmptyQuery,
  InvoiceFormatQuery,
  InvoiceListQuery,
  InvoiceNumberParams,
} from '../schemas';

/** Routes that read the business record: periods, invoices, alerts and the audit log. */
export function readsRouter(deps: ApiDeps): Router {
  const router = Router();

  mount(router, ROUTES.listPeriods, deps, async (req, res) => {
    const { id } = parseRequestPart(ContractIdParams, req.params, 'path');
    parseRequestPart(EmptyQuery, req.query, 'query');
    const contract = await findContract(deps.db, id);
    if (!contract) throw notFound(`Contract ${id} was not found.`);

    const records = await listPeriodRecords(deps.db, id);
    const periods = [];
    for (const record of records) periods.push(await describePeriod(deps, id, record));
    res.json({ contractId: id, at: deps.now().toISOString(), periods });
  });

  mount(router, ROUTES.listInvoices, deps, async (req, res) => {
    const query = parseRequestPart(InvoiceListQuery, req.query, 'query');
    const invoices = await listInvoices(deps.db, { contractId: query.contractId, after: query.after, limit: query.limit });
    res.json({ invoices: invoices.map(withoutKey), next: invoices.length === query.limit ? invoices.at(-1)!.number : null });
  });

  // Registered before `/invoices/:number`, whose parameter would otherwise match `12.html`.
  mount(router, ROUTES.getInvoiceHtml, deps, async (req, res) => {
    const { number } = parseRequestPart(InvoiceNumberParams, req.params, 'path');
    parseRequestPart(EmptyQuery, req.query, 'query');
    await sendInvoiceHtml(deps, number, res);
  });

  mount(router, ROUTES.getInvoice, deps, async (req, res) => {
    const { number } = parseRequestPart(InvoiceNumberParams, req.params, 'path');
    const { format } = parseRequestPart(InvoiceFormatQuery, req.query, 'query');
    if (format === 'html') {
      await sendInvoiceHtml(deps, number, res);
      return;
    }
    const [invoice] = await listInvoices(deps.db, { number, limit: 1 });
    if (!invoice) throw notFound(`Invoice ${number} was not found.`);
    res.json(withoutKey(invoice));
  });

  mount(router, ROUTES.listAlerts, deps, async (req, res) => {
    const query = parseRequestPart(AlertListQuery, req.query, 'query');
    const alerts = await listAlerts(deps.db, query);
    res.json({ alerts, next: alerts.length === query.limit ? alerts.at(-1)!.key : null });
  });

  mount(router, ROUTES.listAudit, deps, async (req, res) => {
    const query = parseRequestPart(AuditListQuery, req.query, 'query');
    const entries = await listAuditEntries(deps.db, query);
    res.json({ entries, next: entries.length === query.limit ? entries.at(-1)!.id : null });
  });

  return router;
}

/** Drops the internal issuing key from an invoice. */
function withoutKey<T extends { key: string }>(invoice: T): Omit<T, 'key'> {
  const { key: _key, ...rest } = invoice;
  return rest;
}

async function sendInvoiceHtml(deps: ApiDeps, number: string, res: Response): Promise<void> {
  const [invoice] = await listInvoices(deps.db, { number, limit: 1 });
  if (!invoice) throw notFound(`Invoice ${number} was not found.`);
  const contract = await findContract(deps.db, invoice.contractId);
  const [first] = await listTermsVersions(deps.db, invoice.contractId);
  const html = renderInvoiceHtml(invoice, {
    customerName: contract?.customerName ?? '',
    customerId: contract?.customerId ?? '',
    billingEmail: first?.terms.customer.billingEmail ?? null,
  });
  res.status(200).set('Content-Security-Policy', HTML_PAGE_CSP).type('html').send(html);
}

/**
 * Describes one period: a closed period by the statement its close recorded, an open
 * one by live figures from its admission state, with overage and charges as admission
 * computes them now.
 */
async function describePeriod(deps: ApiDeps, contractId: string, record: PeriodRecord) {
  if (record.status === 'closed' && record.statement) {
    return {
      index: record.periodIndex,
      status: 'closed' as const,
      closedAt: record.closedAt?.toISOString() ?? null,
      statement: record.statement,
    };
  }
  const { terms } = await termsInForce(deps.db, contractId, record.periodIndex);
  const state = record.admission;
  const { overageCredits, charges } = admissionCharges(state, terms);
  return {
    index: record.periodIndex,
    status: 'open' as const,
    start: record.start.toISOString(),
    end: record.end.toISOString(),
    tier: state.tier,
    demandCredits: state.demandCredits,
    carriedInCredits: state.carriedInCredits,
    admittedCredits: state.admittedCredits,
    deferredCredits: state.deferredCredits,
    admittedEvents: state.admittedEvents,
    deferredEvents: state.deferredEvents,
    throttled: state.throttled,
    overageCredits: overageCredits.toFixed(),
    charges: formatCharges(charges, terms.currency),
    tierChanges: state.tierChanges,
  };
}
