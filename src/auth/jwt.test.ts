// The JWT authenticator's handling of tokens: what it accepts and refuses, scopes, and its verification cache.
import { beforeAll, describe, expect, it } from 'vitest';
import type { JWTPayload } from 'jose';
import { createJwtAuthenticator, type JwtAuthOptions } from './jwt.js';
import { AUD, b64, base, clock, ISS, pair, sign, T0, type Pair } from '../../test/helpers/jwt.js';

let rsa: Pair;
let rsaB: Pair;
const pemAuth = (extra: Partial<JwtAuthOptions> = {}) =>
  createJwtAuthenticator({ ...base(), publicKeyPem: rsa.pem, ...extra });

beforeAll(async () => {
  [rsa, rsaB] = await Promise.all([pair('RS256', 'a'), pair('RS256', 'b')]);
});

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
