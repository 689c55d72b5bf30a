// Terms documents shared by the domain tests.
import fs from 'node:fs';
import path from 'node:path';
import { parseTerms, type Terms } from '../../src/domain';

const examples = path.resolve(__dirname, '../../examples');

/** Returns the reference deal, with its prepaid block. */
export function referenceDeal(): Terms {
  return parseTerms(JSON.parse(fs.readFileSync(path.join(examples, 'reference-deal.json'), 'utf8')));
}

/** Returns the worked example's terms: the reference deal without prepaid, throttled. */
export function workedExampleTerms(): Terms {
  return parseTerms(JSON.parse(fs.readFileSync(path.join(examples, 'worked-example-terms.json'), 'utf8')));
}

/** Returns the reference deal as plain JSON with `change` applied, for validation tests. */
export function referenceJson(change: (json: Record<string, any>) => void = () => {}): Record<string, any> {
  const json = JSON.parse(fs.readFileSync(path.join(examples, 'reference-deal.json'), 'utf8')) as Record<string, any>;
  change(json);
  return json;
}

/**
 * Returns small terms with round numbers for hand-worked cases. Meter `unit` is 1 credit
 * per unit. Tier `small` commits 100 credits at 1.00 with no platform fee and a cap of
 * 150.00. Tier `big` commits 300 credits at 0.90 with a cap of 400.00. Overage is 1x.
 */
export function smallTerms(change: (json: Record<string, any>) => void = () => {}): Terms {
  const json: Record<string, any> = {
    customer: { id: 'c1', name: 'Customer One', billingEmail: 'billing@c1.example' },
    accountManager: { name: 'Ann Manager', email: 'am@vendor.example' },
    currency: 'USD',
    timeZone: 'UTC',
    startDate: '2026-01-01',
    termMonths: 6,
    meters: [{ key: 'unit', unit: 'unit', creditsPerUnit: '1' }],
    tiers: [
      { name: 'small', commitCredits: '100', pricePerCredit: '1.00', platformFee: '0.00', spendCap: '150.00' },
      { name: 'big', commitCredits: '300', pricePerCredit: '0.90', platformFee: '0.00', spendCap: '400.00' },
    ],
    initialTier: 'small',
    overageMultiplier: '1',
    capPolicy: 'throttle',
  };
  change(json);
  return parseTerms(json);
}

/** Reads the worked example's usage file as simulator rows. */
export function workedExampleRows(): { occurredAt: string; meter: string; quantity: string; eventId: string }[] {
  const text = fs.readFileSync(path.join(examples, 'worked-example-usage.csv'), 'utf8');
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [occurredAt, meter, quantity, eventId] = line.split(',') as [string, string, string, string];
      return { occurredAt, meter, quantity, eventId };
    });
}
