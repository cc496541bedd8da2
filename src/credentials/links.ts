// Connection links and OAuth `state`, sealed with the vault key (AES-256-GCM: nobody can read or
// forge them). A connect link names the user it was made for and one upstream, expires, and works
// once; the state carries the PKCE verifier and the hash of the browser cookie set when the link was
// opened, so the callback completes only in the browser that started the flow.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { VaultKeys } from './vault.js';

export interface LinkClaims {
  /** The agent identity (user) it is for. */
  a: string;
  /** The upstream (connect links); '' for the connections page. */
  u: string;
  /** Single-use id. */
  j: string;
  /** Expiry, ms since epoch. */
  e: number;
  p: 'connect' | 'manage';
}

export interface StateClaims {
  a: string;
  u: string;
  /** PKCE code_verifier. */
  v: string;
  /** sha256 of the browser's flow cookie. */
  b: string;
  /** Single-use nonce. */
  n: string;
  e: number;
  /** The issuer the flow went to (RFC 9207 mix-up check). */
  i: string;
}

export const newId = (): string => randomBytes(16).toString('base64url');
export const browserHash = (cookie: string): string => createHash('sha256').update(cookie).digest('base64url');

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function mintLink(keys: VaultKeys, base: string, claims: Omit<LinkClaims, 'j'>): string {
  const t = keys.seal({ ...claims, j: newId() }, 'tollgate-link');
  const path = claims.p === 'connect' ? '/connections/start' : '/connections';
  return `${base.replace(/\/$/, '')}${path}?t=${t}`;
}

export function openLink(
  keys: VaultKeys,
  t: string | undefined,
  p: LinkClaims['p'],
): LinkClaims | 'invalid' | 'expired' {
  if (!t) return 'invalid';
  const c = keys.open(t, 'tollgate-link') as Partial<LinkClaims> | undefined;
  if (!c || c.p !== p || typeof c.a !== 'string' || typeof c.u !== 'string' || typeof c.j !== 'string')
    return 'invalid';
  if (typeof c.e !== 'number' || c.e <= Date.now()) return 'expired';
  return c as LinkClaims;
}

export function sealState(keys: VaultKeys, claims: StateClaims): string {
  return keys.seal(claims, 'tollgate-state');
}

export function openState(keys: VaultKeys, s: string | undefined): StateClaims | 'invalid' | 'expired' {
  if (!s) return 'invalid';
  const c = keys.open(s, 'tollgate-state') as Partial<StateClaims> | undefined;
  if (!c || typeof c.a !== 'string' || typeof c.u !== 'string' || typeof c.v !== 'string') return 'invalid';
  if (typeof c.b !== 'string' || typeof c.n !== 'string' || typeof c.i !== 'string') return 'invalid';
  if (typeof c.e !== 'number' || c.e <= Date.now()) return 'expired';
  return c as StateClaims;
}
