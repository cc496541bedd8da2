// What an approval's outcome means for the agent and the audit, and the argument hash it is bound to.
import type { ApprovalDecision } from '../audit/record.js';
import { canonicalJson, sha256Hex } from '../pins/canonical.js';
import type { Approval, ApprovalStatus } from './store.js';

const STATUS_DECISION: Record<Exclude<ApprovalStatus, 'pending'>, ApprovalDecision> = {
  approved: 'approval_approved',
  denied: 'approval_denied',
  timed_out: 'approval_timed_out',
  withdrawn: 'approval_withdrawn',
  void: 'approval_void',
};

/** The SHA-256 of arguments in canonical form (key order does not matter), or undefined when they cannot be hashed. */
export function argsHash(args: unknown): string | undefined {
  try {
    return sha256Hex(canonicalJson(args ?? {}));
  } catch {
    return undefined; // nested beyond what can be serialised
  }
}

/** What the agent is told about its approval in `error.data.approval`. */
export interface ApprovalData {
  id: string;
  status: Exclude<ApprovalStatus, 'pending' | 'approved'> | 'declined' | 'unavailable' | 'mismatch';
  ask: 'user' | 'operators';
  rule: string;
  reason?: string;
  decidedBy?: string;
}

/** What the agent learns from a decided approval that was not an approval. */
export function dataOf(a: Approval, ask: 'user' | 'operators'): ApprovalData {
  return {
    id: a.id,
    status: a.status === 'pending' || a.status === 'approved' ? 'void' : a.status,
    ask,
    rule: a.rule,
    ...(a.reason ? { reason: a.reason } : {}),
    ...(a.decidedBy ? { decidedBy: a.decidedBy } : {}),
  };
}

export const decisionOf = (a: Approval): ApprovalDecision =>
  a.status === 'pending' ? 'approval_void' : STATUS_DECISION[a.status];
