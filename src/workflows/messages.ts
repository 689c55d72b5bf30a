import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Schedule } from '../activities/contract-activities';

/** Returns the workflow id of a contract: one workflow per signed contract, for its whole term. */
export function contractWorkflowId(contractId: string): string {
  return `contract-${contractId}`;
}

export const CONTRACT_TASK_QUEUE = 'trueup-contracts';

/** The few values the workflow carries from one run to the next. */
export interface ContractWorkflowInput {
  contractId: string;
  /** The period whose close this run waits for. */
  periodIndex: number;
  /** Set when alerts were signalled after the previous run's last delivery. */
  deliveryDue?: boolean;
  /** This period's schedule, as the previous run's close computed it; loaded when absent. */
  schedule?: Schedule;
}

export interface LifecycleState {
  contractId: string;
  status: 'running' | 'completed';
  /** The period whose close is pending. */
  periodIndex: number;
  closeDueAt: string | null;
  currentTier: string | null;
  tiers: string[];
  finalPeriodIndex: number | null;
  closesCompleted: number;
}

export interface Operator {
  /** Requester: an API key id or a person's name, recorded in the audit log. */
  by: string;
  reason: string;
}

export interface ChangeTierRequest extends Operator {
  tier: string;
}

export interface ChangeTierResult {
  previousTier: string;
  tier: string;
  /** `now` for an upgrade of the open period; `next_period` for a downgrade. */
  effective: 'now' | 'next_period';
  effectiveFromPeriod: number;
}

export interface AmendRequest extends Operator {
  terms: unknown;
  effectiveFromPeriod: number;
}

export interface AmendResult {
  version: number;
  effectiveFromPeriod: number;
}

export interface GrantCreditsRequest extends Operator {
  credits: string;
  expiresAt: string;
  /** Optional caller-chosen id that makes a repeated request a no-op. */
  grantId?: string;
}

export interface GrantCreditsResult {
  grantId: string;
  credits: string;
  validFrom: string;
  expiresAt: string;
}

export type TerminateRequest = Operator;

export interface TerminateResult {
  finalPeriodIndex: number;
  endsAt: string;
}

export interface AlertsRaisedSignal {
  /** Alert keys already stored by the sender; the workflow delivers them. */
  alertKeys: string[];
  /** Set when ingestion moved the contract to a higher tier. */
  tier?: string;
}

export const lifecycleQuery = defineQuery<LifecycleState>('lifecycle');
export const changeTierUpdate = defineUpdate<ChangeTierResult, [ChangeTierRequest]>('changeTier');
export const amendUpdate = defineUpdate<AmendResult, [AmendRequest]>('amend');
export const grantCreditsUpdate = defineUpdate<GrantCreditsResult, [GrantCreditsRequest]>('grantCredits');
export const terminateUpdate = defineUpdate<TerminateResult, [TerminateRequest]>('terminate');
export const alertsRaisedSignal = defineSignal<[AlertsRaisedSignal]>('alertsRaised');
