// PKCE (RFC 7636), S256 only: plain would let whoever sees the authorization request redeem the code.
import { createHash, timingSafeEqual } from 'node:crypto';

/** A verifier is 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1). */
export const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** An S256 challenge is the base64url SHA-256 of the verifier: 43 characters. */
export const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function pkceMatches(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier) || !CHALLENGE.test(challenge)) return false;
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}
