import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { createJwtAuthenticator, type JwtAuthOptions } from './jwt.js';
import { startJwksServer, type JwksServer } from '../../test/fixtures/jwks-server.js';

const ISS = 'https://idp.example.com';
const AUD = 'https://gateway.example.com/mcp';
const T0 = 1_900_000_000; // fixed clock (seconds) so expiry tests need no sleeping
const clock = { ms: T0 * 1000 };
const now = () => clock.ms;
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

interface Pair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  jwk: JWK;
  pem: string;
}
async function pair(alg: string, kid: string): Promise<Pair> {
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
function sign(key: CryptoKey | Uint8Array, claims: JWTPayload = { sub: 'agent-1' }, o: SignOpts = {}): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: o.alg ?? 'RS256', ...(o.kid && { kid: o.kid }), ...(o.typ && { typ: o.typ }) })
    .setIssuer(o.iss ?? ISS)
    .setAudience(o.aud ?? AUD)
    .setIssuedAt(T0);
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? T0 + 300);
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  return jwt.sign(key);
}

let rsa: Pair;
let rsaB: Pair;
let ec: Pair;
let jwks: JwksServer;
const base = (): Pick<JwtAuthOptions, 'issuer' | 'audience' | 'now'> => ({ issuer: ISS, audience: AUD, now });
const pemAuth = (extra: Partial<JwtAuthOptions> = {}) =>
  createJwtAuthenticator({ ...base(), publicKeyPem: rsa.pem, ...extra });

beforeAll(async () => {
  [rsa, rsaB, ec] = await Promise.all([pair('RS256', 'a'), pair('RS256', 'b'), pair('ES256', 'e')]);
  jwks = await startJwksServer();
});
afterAll(() => jwks.close());

describe('createJwtAuthenticator: verification', () => {
  it('accepts a valid token and builds the identity', async () => {
    const r = await pemAuth().authenticate(await sign(rsa.privateKey, { sub: 'agent-1', scope: 'tools:call read' }));
    expect(r).toEqual({
      ok: true,
      identity: {
        id: 'agent-1',
        method: 'jwt',
        scopes: ['tools:call', 'read'],
        claims: expect.objectContaining({ sub: 'agent-1', iss: ISS, aud: AUD }),
        expiresAt: (T0 + 300) * 1000,
      },
    });
  });

  it.each([
    ['expired beyond tolerance', { exp: T0 - 60 }, 'token expired'],
    ['not yet valid beyond tolerance', { nbf: T0 + 120 }, 'token not yet valid'],
    ['wrong audience', { aud: 'https://other.example.com' }, 'wrong audience'],
    ['wrong issuer', { iss: 'https://evil.example.com' }, 'wrong issuer'],
  ] as const)('rejects a token that is %s', async (_, o, description) => {
    const r = await pemAuth().authenticate(await sign(rsa.privateKey, undefined, o));
    expect(r).toEqual({ ok: false, error: 'invalid_token', description });
  });

  it('rejects a token without exp by default (a leaked token would never expire); requireExp: false allows it', async () => {
    const token = await sign(rsa.privateKey, undefined, { exp: null });
    expect(await pemAuth().authenticate(token)).toEqual({
      ok: false,
      error: 'invalid_token',
      description: 'token lacks the exp claim',
    });
    expect(await pemAuth({ requireExp: false }).authenticate(token)).toMatchObject({ ok: true });
  });

  it('accepts exp/nbf within the clock tolerance', async () => {
    const a = pemAuth();
    expect((await a.authenticate(await sign(rsa.privateKey, undefined, { exp: T0 - 10 })))?.ok).toBe(true);
    expect((await a.authenticate(await sign(rsa.privateKey, undefined, { nbf: T0 + 10 })))?.ok).toBe(true);
    const strict = pemAuth({ clockToleranceSec: 0 });
    expect(await strict.authenticate(await sign(rsa.privateKey, undefined, { exp: T0 - 10 }))).toMatchObject({
      ok: false,
    });
  });

  it('rejects alg=none', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'agent-1', iss: ISS, aud: AUD, exp: T0 + 300 })}.`;
    expect(await pemAuth().authenticate(token)).toEqual({
      ok: false,
      error: 'invalid_token',
      description: 'algorithm not allowed',
    });
  });

  it('rejects an HS256 token whose secret is the RSA public key PEM (key confusion)', async () => {
    const token = await sign(new TextEncoder().encode(rsa.pem), undefined, { alg: 'HS256' });
    expect(await pemAuth().authenticate(token)).toEqual({
      ok: false,
      error: 'invalid_token',
      description: 'algorithm not allowed',
    });
  });

  it('rejects a tampered payload', async () => {
    const [h, , s] = (await sign(rsa.privateKey, { sub: 'agent-1' })).split('.');
    const forged = `${h}.${b64({ sub: 'admin', iss: ISS, aud: AUD, exp: T0 + 300 })}.${s}`;
    expect(await pemAuth().authenticate(forged)).toEqual({
      ok: false,
      error: 'invalid_token',
      description: 'signature invalid',
    });
  });

  it('rejects a token signed by another key', async () => {
    expect(await pemAuth().authenticate(await sign(rsaB.privateKey))).toMatchObject({
      description: 'signature invalid',
    });
  });

  it('requires the agent claim to be a non-empty string', async () => {
    const a = pemAuth();
    for (const claims of [{}, { sub: '' }, { sub: 42 }]) {
      expect(await a.authenticate(await sign(rsa.privateKey, claims as JWTPayload))).toMatchObject({
        ok: false,
        error: 'invalid_token',
      });
    }
    const byClient = pemAuth({ agentClaim: 'client_id' });
    expect(await byClient.authenticate(await sign(rsa.privateKey, { client_id: 'bot-7' }))).toMatchObject({
      ok: true,
      identity: { id: 'bot-7' },
    });
  });

  it('checks the typ header when configured', async () => {
    const a = pemAuth({ typ: 'at+jwt' });
    expect(await a.authenticate(await sign(rsa.privateKey, undefined, { typ: 'at+jwt' }))).toMatchObject({ ok: true });
    expect(await a.authenticate(await sign(rsa.privateKey))).toMatchObject({
      ok: false,
      description: 'wrong token type',
    });
  });

  it('returns undefined for tokens that are not compact JWS', async () => {
    const a = pemAuth();
    for (const t of ['tg_live_abcdef', 'a.b', 'abc.def.ghi', 'a.b.c.d.e', '', `${b64('x')}.${b64('y')}.z`]) {
      expect(await a.authenticate(t)).toBeUndefined();
    }
  });
});

describe('createJwtAuthenticator: scopes', () => {
  it('parses `scope` strings and `scp` arrays', async () => {
    const a = pemAuth();
    const s1 = await a.authenticate(await sign(rsa.privateKey, { sub: 'x', scope: 'a  b' }));
    const s2 = await a.authenticate(await sign(rsa.privateKey, { sub: 'x', scp: ['c', 'd', 7] }));
    const s3 = await a.authenticate(await sign(rsa.privateKey, { sub: 'x', scp: 'e f' }));
    expect(s1).toMatchObject({ identity: { scopes: ['a', 'b'] } });
    expect(s2).toMatchObject({ identity: { scopes: ['c', 'd'] } });
    expect(s3).toMatchObject({ identity: { scopes: ['e', 'f'] } });
    const custom = pemAuth({ scopeClaim: 'perms' });
    expect(
      await custom.authenticate(await sign(rsa.privateKey, { sub: 'x', perms: ['p'], scope: 'ignored' })),
    ).toMatchObject({ identity: { scopes: ['p'] } });
  });

  it('answers insufficient_scope when a required scope is missing, even from the cache', async () => {
    const a = pemAuth({ requiredScopes: ['tools:call', 'read'] });
    const weak = await sign(rsa.privateKey, { sub: 'x', scope: 'read' });
    for (let i = 0; i < 2; i++) {
      expect(await a.authenticate(weak)).toEqual({
        ok: false,
        error: 'insufficient_scope',
        scope: 'tools:call read',
        description: 'token lacks required scope: tools:call',
      });
    }
    expect(await a.authenticate(await sign(rsa.privateKey, { sub: 'x', scp: ['read', 'tools:call'] }))).toMatchObject({
      ok: true,
    });
  });
});

describe('createJwtAuthenticator: key sources', () => {
  it('verifies with an HMAC secret', async () => {
    const secret = 's'.repeat(32);
    const a = createJwtAuthenticator({ ...base(), hmacSecret: secret });
    expect(
      await a.authenticate(await sign(new TextEncoder().encode(secret), undefined, { alg: 'HS256' })),
    ).toMatchObject({ ok: true });
    expect(
      await a.authenticate(await sign(new TextEncoder().encode('t'.repeat(32)), undefined, { alg: 'HS256' })),
    ).toMatchObject({ description: 'signature invalid' });
    expect(await a.authenticate(await sign(rsa.privateKey))).toMatchObject({ description: 'algorithm not allowed' });
  });

  it('verifies with a static JWK (ES256), narrowing the default algorithms to the key type', async () => {
    const a = createJwtAuthenticator({ ...base(), jwk: ec.jwk });
    expect(await a.authenticate(await sign(ec.privateKey, undefined, { alg: 'ES256' }))).toMatchObject({ ok: true });
    expect(await a.authenticate(await sign(rsa.privateKey))).toMatchObject({ description: 'algorithm not allowed' });
  });

  it('verifies against a remote JWKS and picks up a rotated-in key on an unknown kid', async () => {
    jwks.setKeys({ keys: [rsa.jwk] });
    const a = createJwtAuthenticator({ ...base(), jwksUrl: jwks.url, cooldownMs: 0 });
    expect(await a.authenticate(await sign(rsa.privateKey, undefined, { kid: 'a' }))).toMatchObject({ ok: true });
    const tokenB = await sign(rsaB.privateKey, undefined, { kid: 'b' });
    expect(await a.authenticate(tokenB)).toEqual({ ok: false, error: 'invalid_token', description: 'unknown key id' });
    jwks.setKeys({ keys: [rsa.jwk, rsaB.jwk] });
    const before = jwks.requests();
    expect(await a.authenticate(tokenB)).toMatchObject({ ok: true }); // the failure was not cached
    expect(jwks.requests()).toBe(before + 1);
  });

  it('rate-limits JWKS refetches for unknown kids with the cooldown', async () => {
    jwks.setKeys({ keys: [rsa.jwk] });
    const a = createJwtAuthenticator({ ...base(), jwksUrl: jwks.url, cooldownMs: 60_000 });
    const before = jwks.requests();
    await a.authenticate(await sign(rsa.privateKey, undefined, { kid: 'a' }));
    for (const kid of ['x', 'y', 'z']) {
      expect(await a.authenticate(await sign(rsaB.privateKey, undefined, { kid }))).toMatchObject({
        description: 'unknown key id',
      });
    }
    expect(jwks.requests()).toBe(before + 1);
  });

  it('reports an unreachable key set without throwing', async () => {
    const errs: unknown[] = [];
    const a = createJwtAuthenticator({
      ...base(),
      jwksUrl: 'http://127.0.0.1:1/jwks.json',
      onError: (e) => errs.push(e),
    });
    expect(await a.authenticate(await sign(rsa.privateKey, undefined, { kid: 'a' }))).toEqual({
      ok: false,
      error: 'invalid_token',
      description: 'key set unavailable',
    });
    expect(errs).toHaveLength(1);
  });
});

describe('createJwtAuthenticator: verification cache', () => {
  it('does not re-verify a repeated token (nor concurrent duplicates)', async () => {
    const a = pemAuth();
    const token = await sign(rsa.privateKey);
    const [r1, r2] = await Promise.all([a.authenticate(token), a.authenticate(token)]);
    expect(r1).toEqual(r2);
    expect(await a.authenticate(token)).toEqual(r1);
    expect(a.stats()).toEqual({ verifications: 1, cacheHits: 1, cached: 1 });
  });

  it('does not serve a cached token past its exp', async () => {
    const a = pemAuth();
    const token = await sign(rsa.privateKey, undefined, { exp: T0 + 100 });
    expect(await a.authenticate(token)).toMatchObject({ ok: true });
    clock.ms = (T0 + 100 + 31) * 1000;
    try {
      expect(await a.authenticate(token)).toEqual({ ok: false, error: 'invalid_token', description: 'token expired' });
    } finally {
      clock.ms = T0 * 1000;
    }
    expect(a.stats().verifications).toBe(2);
  });

  it('keeps tokens without exp (when allowed) for at most 60 s, and never caches failures', async () => {
    const a = pemAuth({ requireExp: false });
    const token = await sign(rsa.privateKey, undefined, { exp: null });
    await a.authenticate(token);
    await a.authenticate(token);
    clock.ms = T0 * 1000 + 61_000;
    try {
      expect(await a.authenticate(token)).toMatchObject({ ok: true });
    } finally {
      clock.ms = T0 * 1000;
    }
    expect(a.stats().verifications).toBe(2);
    const bad = await sign(rsaB.privateKey);
    await a.authenticate(bad);
    await a.authenticate(bad);
    expect(a.stats().verifications).toBe(4);
  });

  it('is bounded, evicting the oldest entry', async () => {
    const a = pemAuth({ cacheMaxEntries: 2 });
    const tokens = await Promise.all(['a', 'b', 'c'].map((sub) => sign(rsa.privateKey, { sub })));
    for (const t of tokens) await a.authenticate(t);
    expect(a.stats().cached).toBe(2);
    await a.authenticate(tokens[2]!); // newest: hit
    await a.authenticate(tokens[0]!); // oldest: evicted, verified again
    expect(a.stats()).toMatchObject({ verifications: 4, cacheHits: 1 });
  });
});

describe('createJwtAuthenticator: build-time validation', () => {
  it.each([
    ['no key source', {}, /exactly one key source/],
    [
      'two key sources',
      { publicKeyPem: 'x', hmacSecret: 'y'.repeat(32) },
      /exactly one key source.*publicKeyPem, hmacSecret/,
    ],
    [
      'HS alg with JWKS',
      { jwksUrl: 'https://idp.example.com/jwks', algorithms: ['RS256', 'HS256'] },
      /HS\* algorithms require hmacSecret/,
    ],
    ['RS alg with an HMAC secret', { hmacSecret: 'y'.repeat(32), algorithms: ['RS256'] }, /asymmetric algorithms need/],
    [
      'none in algorithms',
      { jwksUrl: 'https://idp.example.com/jwks', algorithms: ['RS256', 'none'] },
      /"none" is never/,
    ],
    ['an unknown algorithm', { jwksUrl: 'https://idp.example.com/jwks', algorithms: ['RS1'] }, /unsupported algorithm/],
    ['a short HMAC secret', { hmacSecret: 'short' }, /at least 32 bytes/],
    ['a bad PEM', { publicKeyPem: 'not a pem' }, /cannot import publicKeyPem/],
    [
      'a key that fits none of the algorithms',
      { publicKeyPem: 'PEM', algorithms: ['ES256'] },
      /cannot verify any of ES256/,
    ],
    ['plain-http JWKS on a remote host', { jwksUrl: 'http://idp.example.com/jwks' }, /must use https/],
  ] as const)('throws for %s', (_, extra, message) => {
    const opts = { ...base(), ...extra } as JwtAuthOptions;
    if (opts.publicKeyPem === 'PEM') opts.publicKeyPem = rsa.pem;
    expect(() => createJwtAuthenticator(opts)).toThrow(message);
  });

  it('requires issuer and audience', () => {
    expect(() => createJwtAuthenticator({ publicKeyPem: rsa.pem, issuer: '', audience: AUD })).toThrow(/issuer/);
    expect(() => createJwtAuthenticator({ publicKeyPem: rsa.pem, issuer: ISS, audience: [] })).toThrow(/audience/);
  });
});
