import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  creditsExpiringAlert,
  spendThresholdAlert,
  throttledAlert,
  tierUpgradedAlert,
  unbilledDeferredAlert,
  usageThresholdAlert,
} from '../../src/domain/alerts';
import { Exact } from '../../src/domain/decimal';
import { localDateAfterDays, periodBounds } from '../../src/domain/periods';
import { tierByName } from '../../src/domain/terms';
import type { Terms } from '../../src/domain/terms-schema';
import { updateTrigger } from '../../src/domain/trigger';
import {
  AlertDataError,
  formatAmount,
  formatCredits,
  formatUnitPrice,
  periodLabel,
  renderAlertMessage,
  type AlertMessageContext,
} from '../../src/activities/alert-messages';
import { referenceTerms } from './support';

const CONTRACT_ID = 'c-0001';
const PUBLIC_URL = 'https://billing.vendor.example';

function contextFor(terms: Terms, customerName = terms.customer.name): AlertMessageContext {
  return { contractId: CONTRACT_ID, customerName, currency: terms.currency, terms, publicUrl: PUBLIC_URL };
}

/**
 * Builds the worked example's trigger through the domain's trigger rule: March and
 * April already count, and May's close with 85,000 credits of demand fires it.
 */
function workedExampleTrigger(terms: Terms, tierName = 'growth', mayDemand = '85000') {
  const may = 4;
  const result = updateTrigger(
    terms,
    { streak: 2, periods: [{ periodIndex: 2, demandCredits: '80000' }, { periodIndex: 3, demandCredits: '90000' }] },
    {
      contractId: CONTRACT_ID,
      periodIndex: may,
      tier: tierByName(terms, tierName),
      demandCredits: new Exact(mayDemand),
      uncappedTotal: new Exact('0'),
      respondBy: localDateAfterDays(periodBounds(terms, may).end, terms.renegotiation?.responseDays ?? 0, terms.timeZone),
    },
  );
  const alert = result.alerts[0];
  assert.ok(alert, 'the trigger should fire at the third counting period');
  return alert;
}

describe('renegotiation trigger message', () => {
  const terms = referenceTerms();
  const message = renderAlertMessage(workedExampleTrigger(terms), contextFor(terms));

  test('lists demand of each streak period', () => {
    assert.match(message.text, /against the threshold of 75,000 credits \(150% of the growth tier's commit of 50,000 credits\)/);
    assert.ok(message.text.includes('March 2026 (period 2): 80,000 credits, 5,000 credits above the threshold'), message.text);
    assert.ok(message.text.includes('April 2026 (period 3): 90,000 credits, 15,000 credits above the threshold'), message.text);
    assert.ok(message.text.includes('May 2026 (period 4): 85,000 credits, 10,000 credits above the threshold'), message.text);
  });

  test('states respond-by date and tiers', () => {
    assert.ok(message.text.includes('Respond by: 2026-07-01'), message.text);
    assert.ok(
      message.text.includes('Current tier: growth (commit 50,000 credits, 0.20 USD per credit, platform fee 5,000.00 USD, spend cap 25,000.00 USD)'),
      message.text,
    );
    assert.ok(
      message.text.includes('Next tier up: scale (commit 100,000 credits, 0.17 USD per credit, platform fee 6,000.00 USD, spend cap 40,000.00 USD)'),
      message.text,
    );
  });

  test('shows how to reach the contract', () => {
    assert.ok(message.text.includes(`GET ${PUBLIC_URL}/v1/contracts/${CONTRACT_ID}\n`), message.text);
    assert.ok(message.text.includes(`GET ${PUBLIC_URL}/v1/contracts/${CONTRACT_ID}/periods`), message.text);
  });

  test('subject names customer and kind', () => {
    assert.equal(message.subject, 'Acme Corp: renegotiation trigger fired, respond by 2026-07-01');
  });

  test('HTML carries the same numbers', () => {
    for (const expected of ['80,000 credits', '90,000 credits', '85,000 credits', '75,000 credits', '2026-07-01', 'scale (commit 100,000 credits']) {
      assert.ok(message.html.includes(expected), `HTML should contain "${expected}"`);
    }
  });

  test('highest tier says there is none above', () => {
    const atTop = renderAlertMessage(workedExampleTrigger(terms, 'scale', '160000'), contextFor(terms));
    assert.ok(atTop.text.includes('scale is the highest tier of the contract'), atTop.text);
    assert.ok(!atTop.text.includes('Next tier up'), atTop.text);
  });

  test('spendCap basis names the cap', () => {
    const capTerms: Terms = { ...terms, renegotiation: { basis: 'spendCap', thresholdPercent: '100', consecutivePeriods: 1, responseDays: 30 } };
    const result = updateTrigger(capTerms, { streak: 0, periods: [] }, {
      contractId: CONTRACT_ID,
      periodIndex: 3,
      tier: tierByName(capTerms, 'growth'),
      demandCredits: new Exact('90000'),
      uncappedTotal: new Exact('25400.00'),
      respondBy: '2026-05-31',
    });
    const alert = result.alerts[0];
    assert.ok(alert);
    const capMessage = renderAlertMessage(alert, contextFor(capTerms));
    assert.ok(capMessage.text.includes('would have cost more than the spend cap of 25,000.00 USD in 1 consecutive period'), capMessage.text);
    assert.ok(capMessage.text.includes('April 2026 (period 3): 90,000 credits'), capMessage.text);
    assert.ok(capMessage.text.includes('Respond by: 2026-05-31'), capMessage.text);
  });
});

describe('threshold and cap messages', () => {
  const terms = referenceTerms();
  const growth = tierByName(terms, 'growth');

  test('usage threshold states commit share', () => {
    const message = renderAlertMessage(usageThresholdAlert(terms, CONTRACT_ID, 2, growth, '80'), contextFor(terms));
    assert.equal(message.subject, 'Acme Corp: usage reached 80% of the commit in March 2026 (period 2)');
    assert.ok(message.text.includes('has reached 80% of the monthly commit: 40,000 of the 50,000 credits the growth tier includes'), message.text);
    assert.ok(message.text.includes('overage at 0.26 USD per credit'), message.text);
  });

  test('spend threshold states cap share', () => {
    const message = renderAlertMessage(spendThresholdAlert(terms, CONTRACT_ID, 3, growth, '90'), contextFor(terms));
    assert.equal(message.subject, 'Acme Corp: charges reached 90% of the spend cap in April 2026 (period 3)');
    assert.ok(message.text.includes('reached 90% of the spend cap: 22,500.00 USD of the 25,000.00 USD'), message.text);
    assert.ok(message.text.includes('it is deferred to the next period'), message.text);
  });

  test('throttled states when usage resumes', () => {
    const alert = throttledAlert(terms, CONTRACT_ID, 3, growth, '2026-05-01T00:00:00.000Z');
    const message = renderAlertMessage(alert, contextFor(terms));
    assert.equal(message.subject, 'Acme Corp: usage throttled at the spend cap until 2026-05-01 00:00 UTC');
    assert.ok(message.text.includes('reached the spend cap of 25,000.00 USD of the growth tier'), message.text);
    assert.ok(message.text.includes('throttled until the next period starts at 2026-05-01 00:00 UTC'), message.text);
  });

  test('tier upgrade describes both tiers', () => {
    const message = renderAlertMessage(tierUpgradedAlert(terms, CONTRACT_ID, 3, 'growth', 'scale'), contextFor(terms));
    assert.equal(message.subject, 'Acme Corp: tier upgraded from growth to scale');
    assert.ok(message.text.includes('effective for the whole of April 2026 (period 3)'), message.text);
    assert.ok(message.text.includes('New tier:      scale (commit 100,000 credits, 0.17 USD per credit'), message.text);
  });

  test('credits expiring states amount and time', () => {
    const grant = { id: 'rollover-0', kind: 'rollover', expiresAt: '2026-05-02T00:00:00.000Z' };
    const message = renderAlertMessage(creditsExpiringAlert(terms, CONTRACT_ID, 3, grant, '2500'), contextFor(terms));
    assert.equal(message.subject, 'Acme Corp: 2,500 credits expire at 2026-05-02 00:00 UTC');
    assert.ok(message.text.includes("2,500 credits of Acme Corp's rollover grant rollover-0 are still unused and expire at 2026-05-02 00:00 UTC"), message.text);
  });

  test('unbilled deferred usage states credits', () => {
    const message = renderAlertMessage(unbilledDeferredAlert(terms, CONTRACT_ID, 11, '2000'), contextFor(terms));
    assert.equal(message.subject, 'Acme Corp: 2,000 credits of deferred usage left unbilled at contract end');
    assert.ok(message.text.includes('ended with 2,000 credits of usage still deferred'), message.text);
    assert.ok(message.text.includes('December 2026 (period 11)'), message.text);
  });

  test('every message names the alert key', () => {
    const alert = usageThresholdAlert(terms, CONTRACT_ID, 2, growth, '100');
    const message = renderAlertMessage(alert, contextFor(terms));
    assert.ok(message.text.includes(`Alert key: ${alert.key}.`), message.text);
  });
});

describe('HTML escaping', () => {
  const hostile = '<script>alert("x")</script> & Sons';
  const terms = referenceTerms({ customerName: hostile });

  test('customer name with script is escaped', () => {
    const message = renderAlertMessage(workedExampleTrigger(terms), contextFor(terms));
    assert.ok(!message.html.includes('<script>'), 'HTML must not contain a raw <script> tag');
    assert.ok(message.html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Sons'), message.html);
    assert.ok(message.text.includes(hostile), 'plain text keeps the name as written');
  });

  test('subject has no line breaks', () => {
    const broken = referenceTerms({ customerName: 'Acme\r\nBcc: victim@example.com' });
    const message = renderAlertMessage(unbilledDeferredAlert(broken, CONTRACT_ID, 11, '1'), contextFor(broken));
    assert.ok(!/[\r\n]/.test(message.subject), message.subject);
  });
});

describe('invalid alert data', () => {
  const terms = referenceTerms();

  test('missing field names the field', () => {
    const alert = unbilledDeferredAlert(terms, CONTRACT_ID, 11, '2000');
    const broken = { ...alert, data: {} };
    assert.throws(() => renderAlertMessage(broken, contextFor(terms)), (error: unknown) => {
      assert.ok(error instanceof AlertDataError);
      assert.match(error.message, /"deferredCredits"/);
      return true;
    });
  });

  test('unknown kind is rejected', () => {
    const alert = { kind: 'mystery' as never, key: 'k', periodIndex: 0, data: {} };
    assert.throws(() => renderAlertMessage(alert, contextFor(terms)), /unknown kind "mystery"/);
  });
});

describe('number formatting', () => {
  test('credits keep every digit', () => {
    assert.equal(formatCredits('80000'), '80,000');
    assert.equal(formatCredits('1234567.125'), '1,234,567.125');
    assert.equal(formatCredits('999'), '999');
  });

  test('money uses the minor unit', () => {
    assert.equal(formatAmount('25000', 'USD'), '25,000.00 USD');
    assert.equal(formatAmount('1500', 'JPY'), '1,500 JPY');
    assert.equal(formatAmount('1234.5', 'BHD'), '1,234.500 BHD');
  });

  test('unit prices are never rounded', () => {
    assert.equal(formatUnitPrice('0.0015', 'USD'), '0.0015 USD');
    assert.equal(formatUnitPrice('0.2', 'USD'), '0.20 USD');
  });

  test('periods not on the first are ranges', () => {
    const terms: Terms = { ...referenceTerms(), startDate: '2026-01-31' };
    assert.equal(periodLabel(terms, 1), '2026-02-28 to 2026-03-30 (period 1)');
    assert.equal(periodLabel(terms, 99), 'period 99');
  });
});
