// JWT bearer tokens → agent identity, verified with jose. The key source fixes the algorithm family
// at build time (HS* only with a shared secret, asymmetric only with public keys), so a token can
// never pick how it is verified: that is what defeats alg=none and HS/RS key confusion.
import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { AgentIdentity, AuthResult, Authenticator } from './identity.js';
import { ExpiringCache } from './jwt-cache.js';

export interface JwtAuthOptions {
  /** Key source, exactly one of: remote JWKS URL (e.g. the IdP's `jwks_uri`)… */
  jwksUrl?: string;
  /** …a static public key as SPKI PEM (an X.509 certificate PEM also works)… */
  publicKeyPem?: string;
  /** …a static public JWK… */
  jwk?: JWK;
  /** …or a shared secret for HS256/384/512 (at least as many bytes as the hash output). */
  hmacSecret?: string;
  /** Accepted `iss` value(s). */
  issuer: string | readonly string[];
  /** Accepted `aud` value(s): the gateway's resource URL (RFC 8707). */
  audience: string | readonly string[];
  /** Allowed `alg`s. Default: RS256, ES256, PS256, EdDSA (narrowed to the static key's type); HS256 for hmacSecret. */
  algorithms?: readonly string[];
  /** Leeway for exp/nbf/iat, in seconds (default 30). */
  clockToleranceSec?: number;
  /** Claim holding the agent id (default `sub`); must be a non-empty string. */
  agentClaim?: string;
  /** Claim holding scopes, as a space-separated string or string array. Default: `scope` and `scp`. */
  scopeClaim?: string;
  /** Scopes every token must carry; otherwise `insufficient_scope`. */
  requiredScopes?: readonly string[];
  /** Required `typ` header (e.g. `at+jwt` for RFC 9068 access tokens); unchecked when unset. */
  typ?: string;
  /** JWKS: minimum ms between refetches triggered by an unknown `kid` (default 30 000). */
  cooldownMs?: number;
  /** JWKS: ms after which cached keys are refetched anyway (default 600 000). */
  cacheMaxAgeMs?: number;
  /** JWKS: fetch timeout in ms (default 5 000). */
  jwksTimeoutMs?: number;
  /** Permit an `http:` jwksUrl on a non-loopback host (keys fetched in clear text can be forged). */
  allowInsecureJwksUrl?: boolean;
  /** Verified tokens remembered until their `exp` (default 10 000; 0 disables the cache). */
  cacheMaxEntries?: number;
  /** Sees the underlying error of every rejection, for logs (clients only get `description`). */
  onError?: (err: unknown, description: string) => void;
  /** Clock in ms since epoch (tests). */
  now?: () => number;
}

export interface JwtAuthenticator extends Authenticator {
  readonly name: 'jwt';
  authenticate(token: string): Promise<AuthResult | undefined>;
  /** Counters for metrics and tests: signature verifications run, cache hits, cache size. */
  stats(): { verifications: number; cacheHits: number; cached: number };
}

/** Minimum HMAC key length per RFC 7518 §3.2: the hash output size. */
const HMAC_MIN_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };
const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
const DEFAULT_ASYMMETRIC = ['RS256', 'ES256', 'PS256', 'EdDSA'];
const NO_EXP_TTL_MS = 60_000;
const MAX_TOKEN_CHARS = 16_384;
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

class KeySetUnavailable extends Error {}

function fail(message: string): never {
  throw new Error(`jwt auth: ${message}`);
}

function nonEmptyStrings(value: unknown, what: string): string[] {
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
      return curve === 'prime256v1' ? ['ES256'] : curve === 'secp384r1' ? ['ES384'] : curve === 'secp521r1' ? ['ES512'] : [];
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

function buildVerifier(o: JwtAuthOptions): Verifier {
  const sources = (['jwksUrl', 'publicKeyPem', 'jwk', 'hmacSecret'] as const).filter((k) => o[k] !== undefined);
  if (sources.length !== 1) {
    fail(`configure exactly one key source of jwksUrl, publicKeyPem, jwk, hmacSecret (got ${sources.length === 0 ? 'none' : sources.join(', ')})`);
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
    for (const [name, v] of [['cooldownMs', o.cooldownMs], ['cacheMaxAgeMs', o.cacheMaxAgeMs], ['jwksTimeoutMs', o.jwksTimeoutMs]] as const) {
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
    fail(`the ${sources[0]} key (${key.asymmetricKeyType ?? 'unknown type'}) cannot verify any of ${algorithms.join(', ')}`);
  }
  return { key, algorithms: narrowed };
}

const CLAIM_FAILURES: Readonly<Record<string, string>> = {
  aud: 'wrong audience',
  iss: 'wrong issuer',
  nbf: 'token not yet valid',
  exp: 'token expired',
  iat: 'invalid iat claim',
  typ: 'wrong token type',
};

/** Short, fixed descriptions: nothing from the token or the key set reaches the client. */
function describe(err: unknown): string {
  if (err instanceof KeySetUnavailable) return 'key set unavailable';
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return CLAIM_FAILURES[err.claim] ?? 'invalid claims';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature invalid';
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown key id';
  if (err instanceof errors.JWKSMultipleMatchingKeys) return 'ambiguous key id';
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return 'algorithm not allowed';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed token';
  return 'token verification failed';
}

function scopesOf(payload: JWTPayload, scopeClaim: string | undefined): string[] {
  const read = (v: unknown): string[] =>
    typeof v === 'string' ? v.split(' ') : Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  const raw = scopeClaim !== undefined ? read(payload[scopeClaim]) : [...read(payload.scope), ...read(payload.scp)];
  return [...new Set(raw.filter((s) => s.length > 0))];
}

export function createJwtAuthenticator(options: JwtAuthOptions): JwtAuthenticator {
  const { key, algorithms } = buildVerifier(options);
  const issuer = nonEmptyStrings(options.issuer, 'issuer');
  const audience = nonEmptyStrings(options.audience, 'audience');
  const tolerance = options.clockToleranceSec ?? 30;
  if (!Number.isFinite(tolerance) || tolerance < 0) fail('clockToleranceSec must be a non-negative number');
  const agentClaim = options.agentClaim ?? 'sub';
  if (agentClaim.length === 0) fail('agentClaim must be a non-empty string');
  const required = options.requiredScopes ?? [];
  if (!required.every((s) => typeof s === 'string' && s.length > 0 && !s.includes(' '))) {
    fail('requiredScopes must be non-empty strings without spaces');
  }
  const now = options.now ?? Date.now;
  const cache = new ExpiringCache<AgentIdentity>(options.cacheMaxEntries ?? 10_000);
  // Concurrent requests with the same new token share one verification.
  const inflight = new Map<string, Promise<AuthResult>>();
  const counters = { verifications: 0, cacheHits: 0 };

  const reject = (err: unknown, description: string): AuthResult => {
    options.onError?.(err, description);
    return { ok: false, error: 'invalid_token', description };
  };

  async function verify(token: string, cacheKey: string): Promise<AuthResult> {
    counters.verifications++;
    const at = now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms,
        issuer,
        audience,
        clockTolerance: tolerance,
        currentDate: new Date(at),
        ...(options.typ !== undefined && { typ: options.typ }),
      }));
    } catch (err) {
      return reject(err, describe(err));
    }
    const id = payload[agentClaim];
    if (typeof id !== 'string' || id.length === 0) {
      return reject(new Error(`missing ${agentClaim} claim`), `token lacks the ${agentClaim} claim`);
    }
    const identity: AgentIdentity = {
      id,
      method: 'jwt',
      scopes: scopesOf(payload, options.scopeClaim),
      claims: payload,
      ...(typeof payload.exp === 'number' && { expiresAt: payload.exp * 1000 }),
    };
    // Cache until exp exactly; past it, re-verification applies the clock tolerance and rejects.
    cache.set(cacheKey, identity, identity.expiresAt ?? at + NO_EXP_TTL_MS);
    return { ok: true, identity };
  }

  function checkScopes(identity: AgentIdentity): AuthResult {
    const missing = required.filter((s) => !identity.scopes.includes(s));
    if (missing.length === 0) return { ok: true, identity };
    return {
      ok: false,
      error: 'insufficient_scope',
      scope: required.join(' '),
      description: `token lacks required scope: ${missing.join(' ')}`,
    };
  }

  return {
    name: 'jwt',
    stats: () => ({ ...counters, cached: cache.size }),
    async authenticate(token: string): Promise<AuthResult | undefined> {
      if (!COMPACT_JWS.test(token)) return undefined;
      if (token.length > MAX_TOKEN_CHARS) return reject(new Error('token too large'), 'token too large');
      try {
        if (typeof decodeProtectedHeader(token).alg !== 'string') return undefined;
      } catch {
        return undefined; // three dotted parts, but not a JOSE header: someone else's token format
      }

      const cacheKey = createHash('sha256').update(token).digest('base64url');
      const cached = cache.get(cacheKey, now());
      if (cached !== undefined) {
        counters.cacheHits++;
        return checkScopes(cached);
      }
      let pending = inflight.get(cacheKey);
      if (pending === undefined) {
        pending = verify(token, cacheKey).finally(() => inflight.delete(cacheKey));
        inflight.set(cacheKey, pending);
      }
      const result = await pending;
      return result.ok ? checkScopes(result.identity) : result;
    },
  };
}
