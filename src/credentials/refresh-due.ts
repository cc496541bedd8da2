// When an upstream access token Tollgate holds (a user's OAuth token, an exchanged one) is renewed:
// `refresh_before` ahead of its expiry, but never more than half its issued lifetime ahead. An
// authorization server may issue tokens for less than refresh_before (60 s by default); with the
// lead alone such a token is due from the moment it arrives, and every request refreshes it (a
// refresh storm at the AS, a refresh token spent per request).

/** What is known of a held token's life: when it expires and how long the AS gave it (expires_in). */
export interface TokenLife {
  /** ms since epoch; undefined when the AS gave no expiry (used until refused). */
  expiresAt?: number | undefined;
  /** ms; undefined for vault records written before lifetimes were kept (then the lead alone counts). */
  lifetimeMs?: number | undefined;
}

/** Whether the token should be renewed before it is used at `now` (an expired one always is). */
export function refreshDue(t: TokenLife, refreshBeforeMs: number, now: number): boolean {
  if (t.expiresAt === undefined) return false;
  const lead = t.lifetimeMs === undefined ? refreshBeforeMs : Math.min(refreshBeforeMs, t.lifetimeMs / 2);
  return t.expiresAt - Math.max(lead, 0) <= now;
}
