// What a re-read config (SIGHUP) may change in a running authorization server: its local users, in
// place (a removed user must lose access, not only be reported as applied). Anything else in
// auth.oauth shapes the server (issuer, keys, store, pages) and needs a restart.
import type { OAuthConfig } from './schema.js';

export type OAuthReload = { kind: 'unchanged' } | { kind: 'users'; users: OAuthConfig['users'] } | { kind: 'restart' };

export function oauthReload(prev: OAuthConfig | undefined, next: OAuthConfig | undefined): OAuthReload {
  if (JSON.stringify(prev) === JSON.stringify(next)) return { kind: 'unchanged' };
  if (!prev || !next) return { kind: 'restart' };
  const { users: _prevUsers, ...prevRest } = prev;
  const { users, ...nextRest } = next;
  return JSON.stringify(prevRest) === JSON.stringify(nextRest) ? { kind: 'users', users } : { kind: 'restart' };
}
