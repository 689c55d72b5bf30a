import { contractStartGrants, prepaidInvoice, type Terms } from '../domain';
import { recordAudit } from './audit';
import type { Db } from './connection';
import { lockContract } from './contracts';
import { issueInvoice } from './invoices';
import { recordGrant } from './ledger';
import { lockOrOpenPeriod } from './periods';

export interface SignRequest {
  contractId: string;
  /** The draft's terms, already validated as signable. */
  terms: Terms;
  by: string;
  at: Date;
  override?: { by: string; reason: string; redFlags: string[] };
}

/**
 * Signs a draft in one transaction: marks it signed, records the opening grants (the
 * first commit grant and each prepaid block), issues each prepaid block's invoice and
 * opens period 0. Returns false when the contract is not a draft any more.
 */
export async function signContract(db: Db, request: SignRequest): Promise<boolean> {
  const { contractId, terms } = request;
  return db.transaction().execute(async (trx) => {
    const contract = await lockContract(trx, contractId);
    if (!contract || contract.status !== 'draft') return false;

    await trx
      .updateTable('contracts')
      .set({
        status: 'signed',
        signed_at: request.at,
        signed_by: request.by,
        current_tier: terms.initialTier,
        review_override: request.override
          ? JSON.stringify({ ...request.override, at: request.at.toISOString() })
          : null,
      })
      .where('id', '=', contractId)
      .execute();
    await trx
      .updateTable('terms_versions')
      .set({ terms: JSON.stringify(terms) })
      .where('contract_id', '=', contractId)
      .where('version', '=', 1)
      .execute();

    for (const grant of contractStartGrants(terms)) {
      await recordGrant(trx, contractId, grant, request.by, 0);
    }
    // Prepaid blocks bought with the deal are invoiced at signing, whatever their purchase date.
    for (const index of (terms.prepaid ?? []).keys()) {
      await issueInvoice(trx, { ...prepaidInvoice(terms, index, contractId), issuedAt: request.at.toISOString() });
    }

    const signed = await lockContract(trx, contractId);
    await lockOrOpenPeriod(trx, signed!, 0);
    await recordAudit(trx, {
      contractId,
      actor: request.by,
      action: 'contract.signed',
      reason: request.override?.reason ?? null,
      details: request.override ? { override: request.override } : {},
      at: request.at,
    });
    return true;
  });
}
