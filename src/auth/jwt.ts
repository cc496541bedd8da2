// JWT bearer tokens → agent identity, verified with jose. The key source fixes the algorithm family
// at build time (HS* only with a shared secret, asymmetric only with public keys), so a token can
// never pick how it is verified: that is what defeats alg=none and HS/RS key confusion.
import { createHash } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { AgentIdentity, AuthResult, Authenticator } from './identity.js';
import { ExpiringCache } from './jwt-cache.js';
import { KeySetUnavailable, buildVerifier, fail, nonEmptyStrings } from './jwt-keys.js';

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
  /**
   * Refuse tokens without `exp` (default true): a token that never expires cannot be retired by
   * waiting, so one leak is forever. Turn off only for an IdP that cannot set it.
   */
  requireExp?: boolean;
  /** Required `typ` header (e.g. `at+jwt` for RFC 9068 access tokens); unchecked when unset. */
  typ?: string;
  /** JWKS: minimum ms between refetches triggered by an unknown `kid` (default 30 000). */
  cooldownMs?: number;
  /** JWKS: ms after which cached keys are refetched anyway (default 600 000); also caps the token cache. */
  cacheMaxAgeMs?: number;
  /** JWKS: fetch timeout in ms (default 5 000). */
  jwksTimeoutMs?: number;
  /** Permit an `http:` jwksUrl on a non-loopback host (keys fetched in clear text can be forged). */
  allowInsecureJwksUrl?: boolean;
  /** Verified tokens remembered until their `exp`, with a JWKS at most `cacheMaxAgeMs` (default 10 000; 0 disables the cache). */
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

/** A verified token without `exp` is remembered this long. */
const NO_EXP_TTL_MS = 60_000;
/** Longer bearer values are refused before any parsing. */
const MAX_TOKEN_CHARS = 16_384;
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;

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
  if (err instanceof errors.JWTClaimValidationFailed && err.reason === 'missing')
    return `token lacks the ${err.claim} claim`;
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
  // A key the IdP removes from its JWKS (rotated out, leaked) must stop working once the key set is
  // fetched again: a verified token is remembered no longer than the key set is trusted unfetched.
  const keyTrustMs = options.jwksUrl !== undefined ? (options.cacheMaxAgeMs ?? 600_000) : Number.POSITIVE_INFINITY;
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
        ...(options.requireExp !== false && { requiredClaims: ['exp'] }),
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
    cache.set(cacheKey, identity, Math.min(identity.expiresAt ?? at + NO_EXP_TTL_MS, at + keyTrustMs));
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
