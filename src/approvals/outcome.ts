// What an approval's outcome means for the agent and the audit, and the argument hash it is bound to.
import type { ApprovalDecision } from '../audit/record.js';
import { canonicalJson, sha256Hex } from '../pins/canonical.js';
import type { Approval, ApprovalStatus } from './store.js';
import type { UserAnswer } from './ask-user.js';
import { SHUTDOWN_REASON } from './held.js';

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

/** What the agent is told when its user's answer was not a yes. */
export const USER_REFUSALS: Record<
  Exclude<UserAnswer, 'accept'>,
  { status: 'declined' | 'timed_out' | 'withdrawn' | 'void'; text: string }
> = {
  decline: { status: 'declined', text: "the agent's user declined" },
  cancel: { status: 'declined', text: "the agent's user dismissed the request" },
  timeout: { status: 'timed_out', text: "the agent's user did not answer in time" },
  withdrawn: { status: 'withdrawn', text: 'the agent cancelled the call' },
  void: { status: 'void', text: SHUTDOWN_REASON },
};

/** The audit decision and the message's first words for a user's answer that was not a yes. */
export const USER_OUTCOMES: Record<Exclude<UserAnswer, 'accept'>, [ApprovalDecision, string]> = {
  decline: ['approval_denied', 'approval declined'],
  cancel: ['approval_denied', 'approval declined'],
  timeout: ['approval_timed_out', 'approval timed out'],
  withdrawn: ['approval_withdrawn', 'approval withdrawn'],
  void: ['approval_void', 'approval void'],
};
