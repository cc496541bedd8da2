// The OAuth client of one upstream under races a user or the gateway's own concurrency can cause:
// a revocation while a refresh is on its way, several users starting their first flow at once; and
// when it refreshes tokens an authorization server issues for less than refresh_before.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expiredConnection } from '../../test/helpers/oauth-upstream-config.js';
import { startOAuthUpstream, type OAuthUpstream as Fixture } from '../../test/helpers/oauth-upstream.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { OAuthUpstream } from './oauth-upstream.js';
import type { CredentialsConfig, UpstreamAuth } from './runtime.js';
import { Vault, VaultKeys } from './vault.js';
import { FileVaultStore } from './vault-store.js';

let up: Fixture;
beforeAll(async () => {
  up = await startOAuthUpstream();
});
afterAll(() => up?.close());

function client(registration: 'pre_registered' | 'dynamic'): { o: OAuthUpstream; vault: Vault } {
  const file = join(tempDir('tollgate-oauth-up-'), 'vault.json');
  const vault = new Vault(
    new VaultKeys([{ id: 'k1', key: randomBytes(32).toString('base64') }]),
    new FileVaultStore(file),
  );
  const cfg: CredentialsConfig = {
    vault: { store: 'file', file, keys: [] },
    refreshBeforeMs: 60_000,
    linkTtlMs: 600_000,
  };
  const auth: Extract<UpstreamAuth, { kind: 'oauth' }> = {
    kind: 'oauth',
    registration,
    client: registration === 'pre_registered' ? { id: 'tollgate', secret: 'tollgate-secret-0123' } : undefined,
    scopes: undefined,
    catalogHeaders: {},
    refreshBeforeMs: undefined,
    allowPrivateHosts: [],
  };
  const o = new OAuthUpstream('acct', up.mcpUrl, auth, {
    vault,
    cfg,
    baseUrl: () => 'http://127.0.0.1:9',
    log: pino({ level: 'silent' }),
  });
  return { o, vault };
}

describe('OAuth client of an upstream', () => {
  it('a connection revoked while its refresh is on its way stays revoked', async () => {
    const { o, vault } = client('pre_registered');
    await vault.put('acct', 'alice', expiredConnection(up, 'alice'));
    const held = up.hold('refresh');
    const headers = o.channelAuth('alice')?.headers();
    await held.arrived;
    // The user revokes on their page meanwhile.
    expect(await o.revoke('alice')).toBe(true);
    held.release();
    await expect(headers).rejects.toMatchObject({ kind: 'authorization_required' });
    expect(await vault.get('acct', 'alice')).toBeUndefined();
  });

  it('users starting their first flows at once register one client (dynamic registration)', async () => {
    const { o } = client('dynamic');
    const before = up.seen.filter((k) => k === 'register').length;
    const urls = await Promise.all(['alice', 'bob', 'carol'].map((a) => o.authorizationUrl(a, `browser-${a}`)));
    expect(up.seen.filter((k) => k === 'register').length - before).toBe(1);
    const ids = new Set(urls.map((u) => new URL(u).searchParams.get('client_id')));
    expect(ids.size).toBe(1);
  });

  it("lists the catalog with the first user's token without reading every connection per request", async () => {
    const { o, vault } = client('pre_registered');
    for (let i = 0; i < 50; i++)
      await vault.put('acct', `user${i}`, { accessToken: `static-user${i}`, issuer: up.origin, connectedAt: 1000 + i });
    let listed = 0;
    const list = vault.store.list.bind(vault.store);
    vault.store.list = (prefix) => {
      listed++;
      return list(prefix);
    };
    const catalog = o.channelAuth(undefined);
    for (let i = 0; i < 5; i++) expect(await catalog?.headers()).toEqual({ authorization: 'Bearer static-user0' });
    expect(listed).toBe(1);
    // That user's connection gone: the next one's token lists it.
    await vault.delete('acct', 'user0');
    expect(await catalog?.headers()).toEqual({ authorization: 'Bearer static-user1' });
  });

  describe('tokens issued for less than refresh_before (60 s here)', () => {
    /** The AS issues 30 s tokens; the clock is fake (only Date), so "later" is exact. */
    const shortLived = () => {
      let n = 0;
      up.tokenAnswer = () => {
        n++;
        return {
          status: 200,
          body: { access_token: `short-${n}`, refresh_token: `short-rt-${n}`, token_type: 'Bearer', expires_in: 30 },
        };
      };
      vi.useFakeTimers({ toFake: ['Date'] });
    };
    const restore = () => {
      up.tokenAnswer = undefined;
      vi.useRealTimers();
    };
    const later = (ms: number) => vi.setSystemTime(Date.now() + ms);

    it('are used for half their lifetime, not refreshed on every request', async () => {
      shortLived();
      try {
        const { o, vault } = client('pre_registered');
        const t = expiredConnection(up, 'alice');
        await vault.put('acct', 'alice', t);
        const auth = o.channelAuth('alice');
        const refreshes = up.refreshTokens.length;
        // Expired: refreshed at once, as ever.
        expect(await auth?.headers()).toEqual({ authorization: 'Bearer short-1' });
        later(10_000);
        for (let i = 0; i < 5; i++) expect(await auth?.headers()).toEqual({ authorization: 'Bearer short-1' });
        expect(up.refreshTokens.length - refreshes).toBe(1);
        later(5_000); // 15 s of its 30: the second half begins
        expect(await auth?.headers()).toEqual({ authorization: 'Bearer short-2' });
        expect(await auth?.headers()).toEqual({ authorization: 'Bearer short-2' });
        expect(up.refreshTokens.slice(refreshes)).toEqual([t.refreshToken, 'short-rt-1']);
      } finally {
        restore();
      }
    });

    it('a record stored before lifetimes were kept is refreshed as before, then kept half its lifetime', async () => {
      shortLived();
      try {
        const { o, vault } = client('pre_registered');
        const t = up.grant('bob');
        // As a vault written by an older version holds it: an expiry, no lifetime.
        await vault.put('acct', 'bob', {
          accessToken: t.accessToken,
          refreshToken: t.refreshToken,
          expiresAt: Date.now() + 30_000,
          issuer: up.origin,
          connectedAt: Date.now(),
        });
        const auth = o.channelAuth('bob');
        const refreshes = up.refreshTokens.length;
        expect(await auth?.headers()).toEqual({ authorization: 'Bearer short-1' });
        later(14_000);
        expect(await auth?.headers()).toEqual({ authorization: 'Bearer short-1' });
        expect(up.refreshTokens.length - refreshes).toBe(1);
        // A record with an expiry far off is used as it is.
        await vault.put('acct', 'bob', {
          accessToken: 'static-bob',
          expiresAt: Date.now() + 3_600_000,
          issuer: up.origin,
          connectedAt: Date.now(),
        });
        expect(await auth?.headers()).toEqual({ authorization: 'Bearer static-bob' });
        expect(up.refreshTokens.length - refreshes).toBe(1);
      } finally {
        restore();
      }
    });
  });
});
