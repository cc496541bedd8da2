// Who may decide an approval. One small function over an approver identity, so the admin side can
// hand it whoever signed in: an admin token, or a user signed in with their account (auth.oauth,
// src/admin/user-signin.tsx) as {kind: 'user', id, groups}.
export interface ApproverIdentity {
  /** `admin`: an admin token (may decide anything); `user`: a person signed in with groups. */
  kind: 'admin' | 'user';
  /** The token's label (`admin#1`) or the user's id: recorded as who decided. */
  id: string;
  groups: readonly string[];
}

/**
 * Admin tokens decide every approval (they can already change the policies that make them). A user
 * decides one whose rule names them (`user:<id>`) or one of their groups (`group:<name>`); a rule
 * that names no approvers is for admin tokens only.
 */
export function mayApprove(who: ApproverIdentity, approvers: readonly string[]): boolean {
  if (who.kind === 'admin') return true;
  return approvers.some(
    (a) => a === `user:${who.id}` || (a.startsWith('group:') && who.groups.includes(a.slice('group:'.length))),
  );
}

/** How an approval refers to who decided it (`admin#1`, `user:alice`). */
export const approverName = (who: ApproverIdentity): string => (who.kind === 'admin' ? who.id : `user:${who.id}`);
