// Where a JWT's verification key comes from, fixed when the authenticator is built: a shared
// secret (HS* only), a static public key or JWK (its own family only), or a remote JWKS. The token
// never chooses its algorithm family.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, type JWK, type JWTVerifyGetKey } from 'jose';
import type { JwtAuthOptions } from './jwt.js';

/** Minimum HMAC key length per RFC 7518 §3.2: the hash output size. */
const HMAC_MIN_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };
const ASYMMETRIC = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);
const DEFAULT_ASYMMETRIC = ['RS256', 'ES256', 'PS256', 'EdDSA'];
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export class KeySetUnavailable extends Error {}

export function fail(message: string): never {
  throw new Error(`jwt auth: ${message}`);
}

export function nonEmptyStrings(value: unknown, what: string): string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as unknown[]) : [];
  if (list.length === 0 || !list.every((v): v is string => typeof v === 'string' && v.length > 0)) {
    fail(`${what} must be a non-empty string or a non-empty array of non-empty strings`);
  }
  return list;
}

/** Algorithms a static public key can verify: lets the defaults narrow instead of failing per token. */
function algorithmsForKey(key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'prime256v1'
        ? ['ES256']
        : curve === 'secp384r1'
          ? ['ES384']
          : curve === 'secp521r1'
            ? ['ES512']
            : [];
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      return [];
  }
}

function importStaticKey(o: JwtAuthOptions): KeyObject {
  try {
    if (o.publicKeyPem !== undefined) return createPublicKey(o.publicKeyPem);
    const jwk = o.jwk as JWK;
    if (jwk.kty === 'oct') fail('a symmetric ("oct") jwk is not a public key; use hmacSecret');
    if (jwk.use !== undefined && jwk.use !== 'sig') fail(`jwk "use" must be "sig" (got "${jwk.use}")`);
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('jwt auth:')) throw err;
    fail(`cannot import ${o.publicKeyPem !== undefined ? 'publicKeyPem' : 'jwk'}: ${(err as Error).message}`);
  }
}

interface Verifier {
  key: KeyObject | Uint8Array | JWTVerifyGetKey;
  algorithms: string[];
}

export function buildVerifier(o: JwtAuthOptions): Verifier {
  const sources = (['jwksUrl', 'publicKeyPem', 'jwk', 'hmacSecret'] as const).filter((k) => o[k] !== undefined);
  if (sources.length !== 1) {
    fail(
      `configure exactly one key source of jwksUrl, publicKeyPem, jwk, hmacSecret (got ${sources.length === 0 ? 'none' : sources.join(', ')})`,
    );
  }
  let algorithms: string[] | undefined;
  if (o.algorithms !== undefined) {
    algorithms = nonEmptyStrings(o.algorithms, 'algorithms');
    if (algorithms.some((a) => a.toLowerCase() === 'none')) fail('"none" is never an acceptable algorithm');
    const unknown = algorithms.filter((a) => !ASYMMETRIC.has(a) && HMAC_MIN_BYTES[a] === undefined);
    if (unknown.length > 0) fail(`unsupported algorithm(s): ${unknown.join(', ')}`);
  }

  if (o.hmacSecret !== undefined) {
    algorithms ??= ['HS256'];
    if (algorithms.some((a) => ASYMMETRIC.has(a))) {
      fail('hmacSecret only verifies HS256/HS384/HS512; asymmetric algorithms need jwksUrl, publicKeyPem or jwk');
    }
    if (typeof o.hmacSecret !== 'string') fail('hmacSecret must be a string');
    const secret = new TextEncoder().encode(o.hmacSecret);
    const needed = Math.max(...algorithms.map((a) => HMAC_MIN_BYTES[a] ?? 0));
    if (secret.length < needed) fail(`hmacSecret must be at least ${needed} bytes for ${algorithms.join('/')}`);
    return { key: secret, algorithms };
  }

  // Asymmetric sources: an HS* alg here would let a token be "signed" with the public key as secret.
  if (algorithms?.some((a) => HMAC_MIN_BYTES[a] !== undefined)) {
    fail(`HS* algorithms require hmacSecret; they cannot be combined with ${sources[0]}`);
  }
  algorithms ??= [...DEFAULT_ASYMMETRIC];

  if (o.jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(o.jwksUrl);
    } catch {
      fail(`jwksUrl is not a valid URL: ${o.jwksUrl}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('jwksUrl must be an http(s) URL');
    if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && o.allowInsecureJwksUrl !== true) {
      fail('jwksUrl must use https (or set allowInsecureJwksUrl for a trusted network)');
    }
    for (const [name, v] of [
      ['cooldownMs', o.cooldownMs],
      ['cacheMaxAgeMs', o.cacheMaxAgeMs],
      ['jwksTimeoutMs', o.jwksTimeoutMs],
    ] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) fail(`${name} must be a non-negative integer`);
    }
    const remote = createRemoteJWKSet(url, {
      ...(o.cooldownMs !== undefined && { cooldownDuration: o.cooldownMs }),
      ...(o.cacheMaxAgeMs !== undefined && { cacheMaxAge: o.cacheMaxAgeMs }),
      ...(o.jwksTimeoutMs !== undefined && { timeoutDuration: o.jwksTimeoutMs }),
    });
    // Tell "the token names a key we don't have" apart from "we could not fetch keys" (an outage).
    const key: JWTVerifyGetKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
        throw new KeySetUnavailable('key set unavailable', { cause: err });
      }
    };
    return { key, algorithms };
  }

  const key = importStaticKey(o);
  const usable = new Set(algorithmsForKey(key));
  if (o.jwk?.alg !== undefined) for (const a of [...usable]) if (a !== o.jwk.alg) usable.delete(a);
  const narrowed = algorithms.filter((a) => usable.has(a));
  if (narrowed.length === 0) {
    fail(
      `the ${sources[0]} key (${key.asymmetricKeyType ?? 'unknown type'}) cannot verify any of ${algorithms.join(', ')}`,
    );
  }
  return { key, algorithms: narrowed };
}
