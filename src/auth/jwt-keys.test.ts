// The JWT authenticator's keys: where it gets them (HMAC secret, JWK, remote JWKS) and the configurations it refuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwtAuthenticator, type JwtAuthOptions } from './jwt.js';
import { startJwksServer, type JwksServer } from '../../test/fixtures/jwks-server.js';
import { AUD, base, clock, ISS, pair, sign, T0, type Pair } from '../../test/helpers/jwt.js';

let rsa: Pair;
let rsaB: Pair;
let ec: Pair;
let jwks: JwksServer;

beforeAll(async () => {
  [rsa, rsaB, ec] = await Promise.all([pair('RS256', 'a'), pair('RS256', 'b'), pair('ES256', 'e')]);
  jwks = await startJwksServer();
});
afterAll(() => jwks.close());

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

  it('stops accepting a cached token once its key left the JWKS and the key set was refetched', async () => {
    // An IdP removes a key (rotated out, or leaked): tokens it signed, even with a far exp, must not
    // live on in the verification cache longer than the key set itself is trusted without a refetch.
    jwks.setKeys({ keys: [rsa.jwk] });
    const a = createJwtAuthenticator({ ...base(), jwksUrl: jwks.url, cooldownMs: 0, cacheMaxAgeMs: 60_000 });
    const old = await sign(rsa.privateKey, { sub: 'agent-1' }, { kid: 'a', exp: T0 + 86_400 });
    expect(await a.authenticate(old)).toMatchObject({ ok: true });
    jwks.setKeys({ keys: [rsaB.jwk] });
    // A token with the new kid makes the authenticator fetch the key set without key a.
    expect(await a.authenticate(await sign(rsaB.privateKey, undefined, { kid: 'b' }))).toMatchObject({ ok: true });
    clock.ms = T0 * 1000 + 61_000;
    try {
      expect(await a.authenticate(old)).toEqual({ ok: false, error: 'invalid_token', description: 'unknown key id' });
    } finally {
      clock.ms = T0 * 1000;
    }
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
