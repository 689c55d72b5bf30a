import type { Invoice } from '../db/invoices';
import { escapeHtml } from './html';

export interface InvoiceParties {
  customerName: string;
  customerId: string;
  billingEmail: string | null;
}

/**
 * Renders an invoice as a self-contained, printable HTML page. Every value from the
 * database, descriptions and customer names included, is HTML-escaped.
 */
export function renderInvoiceHtml(invoice: Invoice, parties: InvoiceParties): string {
  const e = escapeHtml;
  const lines = invoice.lines
    .map(
      (line) => `      <tr>
        <td>${e(line.description)}<div class="kind">${e(line.kind)}${line.periodIndex !== null ? ` &middot; period ${e(line.periodIndex)}` : ''}</div></td>
        <td class="num">${e(line.quantity)}</td>
        <td class="num">${e(line.unitPrice)}</td>
        <td class="num">${e(line.amount)}</td>
      </tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Invoice ${e(invoice.number)}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 50rem; color: #111; }
  h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
  table { width: 100%; border-collapse: collapse; margin-top: 1.5rem; }
  th, td { padding: 0.4rem 0.5rem; border-bottom: 1px solid #ccc; text-align: left; vertical-align: top; }
  .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .kind { color: #666; font-size: 0.8rem; }
  tfoot td { font-weight: bold; border-bottom: none; }
  dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
  dt { color: #555; }
  @media print { body { margin: 0; } }
</style>
</head>
<body>
<h1>Invoice ${e(invoice.number)}</h1>
<dl>
  <dt>Customer</dt><dd>${e(parties.customerName)} (${e(parties.customerId)})</dd>
  ${parties.billingEmail ? `<dt>Billing email</dt><dd>${e(parties.billingEmail)}</dd>` : ''}
  <dt>Contract</dt><dd>${e(invoice.contractId)}</dd>
  <dt>Kind</dt><dd>${e(invoice.kind)}${invoice.periodIndex !== null ? `, period ${e(invoice.periodIndex)}` : ''}</dd>
  <dt>Issued</dt><dd>${e(invoice.issuedAt)}</dd>
  <dt>Currency</dt><dd>${e(invoice.currency)}</dd>
</dl>
<table>
  <thead>
    <tr><th>Description</th><th class="num">Quantity</th><th class="num">Unit price</th><th class="num">Amount</th></tr>
  </thead>
  <tbody>
${lines}
  </tbody>
  <tfoot>
    <tr><td colspan="3">Total</td><td class="num">${e(invoice.currency)} ${e(invoice.total)}</td></tr>
  </tfoot>
</table>
</body>
</html>
`;
}
