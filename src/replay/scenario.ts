// The two customers of the replay: their terms (the reference deal, adjusted per customer)
// and the volume of each month, chosen so that rollover, expiry, overage, a cap and a
// renegotiation trigger all happen within the first months.
import fs from 'node:fs';
import path from 'node:path';

const EXAMPLES_DIR = path.resolve(__dirname, '../../examples');

/** Folder of the Azure LLM inference traces that feed the replay. */
export const TRACE_DIR = path.join(EXAMPLES_DIR, 'data', 'azure-llm-trace-2023');

/** One month of a customer's traffic. */
export interface MonthPlan {
  /** Multiplier of the trace's token counts in this month. */
  volumeFactor: number;
  /** Billing event the month is meant to show. */
  story: string;
}

export interface ReplayCustomer {
  /** Short name used in event ids and output, such as `code`. */
  key: string;
  /** Agent product of the customer and its cap policy, for the output. */
  description: string;
  traceFile: string;
  /** Builds the terms for a contract starting on `startDate` (YYYY-MM-DD) and lasting `termMonths`. */
  terms(startDate: string, termMonths: number): Record<string, unknown>;
  /** Volume of months 0, 1, 2, ...; the replay runs at most this many months. */
  months: MonthPlan[];
}

function referenceDeal(): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, 'reference-deal.json'), 'utf8'));
}

// Months below are described at full volume (every trace request). At 1x, code.csv makes
// about 19,000 credits a month (18.1 million input tokens at 0.001, 0.25 million output
// tokens at 0.004) and conv.csv about 38,700 (22.4 million and 4.1 million).
//
// Growth tier: commit 50,000 credits, fees 15,000.00, cap 25,000.00, so the cap is reached
// at about 88,500 credits (38,460 of overage at 0.26). Scale tier: commit 100,000, fees
// 23,000.00, cap 40,000.00, reached at about 176,900 credits (76,920 of overage at 0.221).
// The trigger counts months whose demand exceeds 150% of the tier's commit.

/** A code-completion agent: throttled at the cap, trigger after three heavy months. */
export const codeAssistant: ReplayCustomer = {
  key: 'code',
  description: 'code assistant agent (code.csv), cap policy throttle',
  traceFile: path.join(TRACE_DIR, 'code.csv'),
  terms(startDate, termMonths) {
    const deal = referenceDeal();
    delete deal.prepaid;
    return {
      ...deal,
      customer: { id: 'codewright', name: 'Codewright Labs', billingEmail: 'ap@codewright.example' },
      accountManager: { name: 'Dana Reyes', email: 'dana@vendor.example' },
      startDate,
      termMonths,
      capPolicy: 'throttle',
    };
  },
  months: [
    { volumeFactor: 2.0, story: 'pilot under the commit: a quarter of the unused commit rolls over' },
    { volumeFactor: 4.2, story: 'rollout: overage, first month over 150% of commit' },
    { volumeFactor: 5.0, story: 'peak: spend cap reached, throttled, the rest deferred' },
    { volumeFactor: 4.4, story: 'deferred usage first, third heavy month: trigger fires' },
    { volumeFactor: 2.2, story: 'back under the commit: rollover' },
    { volumeFactor: 1.6, story: 'quiet month: rollover' },
    { volumeFactor: 1.4, story: 'last month: unused rollover credits expire with the term' },
  ],
};

/** A conversation agent with a short prepaid block: upgraded at the cap, later capped on the top tier. */
export const conversationAgent: ReplayCustomer = {
  key: 'conv',
  description: 'conversation agent (conv.csv), cap policy upgrade',
  traceFile: path.join(TRACE_DIR, 'conv.csv'),
  terms(startDate, termMonths) {
    const deal = referenceDeal();
    return {
      ...deal,
      customer: { id: 'parley', name: 'Parley Support', billingEmail: 'ap@parley.example' },
      accountManager: { name: 'Sam Okafor', email: 'sam@vendor.example' },
      startDate,
      termMonths,
      capPolicy: 'upgrade',
      prepaid: [{ credits: '40000', discount: '0.15', purchasedOn: startDate, expiresAfterMonths: 2 }],
    };
  },
  months: [
    { volumeFactor: 1.1, story: 'launch under the commit: rollover, prepaid credits untouched' },
    { volumeFactor: 1.8, story: 'prepaid credits burn after the commit; the rest expire at month end' },
    { volumeFactor: 3.0, story: 'spend cap of growth reached: upgraded to scale' },
    { volumeFactor: 4.2, story: 'first month over 150% of the scale commit' },
    { volumeFactor: 4.7, story: 'scale cap reached with no higher tier: deferred' },
    { volumeFactor: 4.3, story: 'third heavy month: trigger fires' },
    { volumeFactor: 2.0, story: 'last month under the commit: unused credits forfeited' },
  ],
};

export const REPLAY_CUSTOMERS: readonly ReplayCustomer[] = [codeAssistant, conversationAgent];

/** Most months the replay can run: the length of the shortest month plan. */
export const MAX_REPLAY_MONTHS = Math.min(...REPLAY_CUSTOMERS.map((customer) => customer.months.length));
