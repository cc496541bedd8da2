// A decision from the admin side: the approver may decide this approval, saw these arguments (when
// it says which), and decides first (the store's compare-and-set); otherwise a clear refusal.
import { approverName, mayApprove, type ApproverIdentity } from './approver.js';
import type { Approval, ApprovalStore } from './store.js';

export type AdminDecision =
  | { ok: true; approval: Approval }
  | { ok: false; status: 403 | 404 | 409; error: string; approval?: Approval };

export interface DecisionRequest {
  id: string;
  who: ApproverIdentity;
  decision: 'approve' | 'deny';
  reason: string | undefined;
  /** The SHA-256 of the arguments the decider was shown. */
  sha256: string | undefined;
}

export async function decideApproval(store: ApprovalStore, now: number, r: DecisionRequest): Promise<AdminDecision> {
  const a = await store.get(r.id);
  if (!a) return { ok: false, status: 404, error: `no approval ${r.id}` };
  const by = approverName(r.who);
  if (!mayApprove(r.who, a.approvers)) return { ok: false, status: 403, error: `${by} may not decide this approval` };
  if (r.sha256 !== undefined && r.sha256 !== a.sha256)
    return {
      ok: false,
      status: 409,
      error: 'the arguments differ from the ones shown: reload and look again',
      approval: a,
    };
  if (a.status !== 'pending')
    return { ok: false, status: 409, error: `approval ${r.id} is already ${a.status}`, approval: a };
  const status = r.decision === 'approve' ? 'approved' : 'denied';
  const groups = r.who.kind === 'user' ? { groups: [...r.who.groups] } : {};
  const d = await store.decide(r.id, { status, by, ...groups, ...(r.reason ? { reason: r.reason } : {}) }, now);
  if (!d) return { ok: false, status: 404, error: `no approval ${r.id}` };
  // Another decision (or the timeout) came first.
  if (d.decidedBy !== by || d.status !== status)
    return { ok: false, status: 409, error: `approval ${r.id} is already ${d.status}`, approval: d };
  return { ok: true, approval: d };
}
