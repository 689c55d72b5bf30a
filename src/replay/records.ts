// Reads what the live contracts recorded through the API: statements of closed periods,
// invoices and alerts.
import type { StoredAlert } from '../db/alerts';
import type { Invoice } from '../db/invoices';
import type { PeriodStatement } from '../domain';
import type { ApiClient } from './client';

/** An invoice as `GET /v1/invoices` returns it. */
export type IssuedInvoice = Omit<Invoice, 'key'>;

const PAGE_SIZE = 500;

interface PeriodView {
  index: number;
  status: 'open' | 'closed';
  statement?: PeriodStatement;
}

/** Reads the statements of a contract's closed periods, by period index. */
export async function closedStatements(api: ApiClient, token: string, contractId: string): Promise<PeriodStatement[]> {
  const { periods } = await api.request<{ periods: PeriodView[] }>('GET', `/v1/contracts/${contractId}/periods`, token);
  return periods
    .filter((period) => period.status === 'closed' && period.statement !== undefined)
    .sort((a, b) => a.index - b.index)
    .map((period) => period.statement!);
}

/** Returns the statement of a closed period, or undefined while it is open. */
export async function closedStatement(api: ApiClient, token: string, contractId: string, periodIndex: number): Promise<PeriodStatement | undefined> {
  return (await closedStatements(api, token, contractId)).find((statement) => statement.index === periodIndex);
}

/** Reads a contract's invoices with their lines, in number order, page by page. */
export async function contractInvoices(api: ApiClient, token: string, contractId: string): Promise<IssuedInvoice[]> {
  const invoices: IssuedInvoice[] = [];
  let after: string | null = null;
  do {
    const query: string = `contractId=${contractId}&limit=${PAGE_SIZE}${after === null ? '' : `&after=${after}`}`;
    const page: { invoices: IssuedInvoice[]; next: string | null } = await api.request('GET', `/v1/invoices?${query}`, token);
    invoices.push(...page.invoices);
    after = page.next;
  } while (after !== null);
  return invoices;
}

/** Reads every alert of a contract with its delivery state, ordered by key, page by page. */
export async function contractAlerts(api: ApiClient, token: string, contractId: string): Promise<StoredAlert[]> {
  const alerts: StoredAlert[] = [];
  let after: string | null = null;
  do {
    const query: string = `contractId=${contractId}&limit=${PAGE_SIZE}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`;
    const page: { alerts: StoredAlert[]; next: string | null } = await api.request('GET', `/v1/alerts?${query}`, token);
    alerts.push(...page.alerts);
    after = page.next;
  } while (after !== null);
  return alerts;
}
