// Signing keys and tokens for the JWT authenticator's tests (src/auth/jwt*.test.ts), on a fixed clock.
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { JwtAuthOptions } from '../../src/auth/jwt.js';

export const ISS = 'https://idp.example.com';
export const AUD = 'https://gateway.example.com/mcp';
export const T0 = 1_900_000_000; // fixed clock (seconds) so expiry tests need no sleeping
export const clock = { ms: T0 * 1000 };
export const now = () => clock.ms;
export const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export interface Pair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  jwk: JWK;
  pem: string;
}
export async function pair(alg: string, kid: string): Promise<Pair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return {
    publicKey,
    privateKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg },
    pem: await exportSPKI(publicKey),
  };
}

interface SignOpts {
  alg?: string;
  kid?: string;
  iss?: string;
  aud?: string;
  exp?: number | null;
  nbf?: number;
  typ?: string;
}
export function sign(
  key: CryptoKey | Uint8Array,
  claims: JWTPayload = { sub: 'agent-1' },
  o: SignOpts = {},
): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: o.alg ?? 'RS256', ...(o.kid && { kid: o.kid }), ...(o.typ && { typ: o.typ }) })
    .setIssuer(o.iss ?? ISS)
    .setAudience(o.aud ?? AUD)
    .setIssuedAt(T0);
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? T0 + 300);
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  return jwt.sign(key);
}

export const base = (): Pick<JwtAuthOptions, 'issuer' | 'audience' | 'now'> => ({ issuer: ISS, audience: AUD, now });
