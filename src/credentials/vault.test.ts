import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureRedis } from '../../test/helpers/redis.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { GatewayError } from '../errors.js';
import { Vault, VaultKeys, type Connection } from './vault.js';
import { FileVaultStore, RedisVaultStore } from './vault-store.js';

const key = (id: string) => ({ id, key: randomBytes(32).toString('base64') });
const conn = (token: string): Connection => ({
  accessToken: token,
  refreshToken: `r-${token}`,
  issuer: 'https://as.example',
  connectedAt: Date.now(),
});

describe('token vault', () => {
  it('keeps tokens encrypted in a 0600 file and opens them again after a restart', async () => {
    const file = join(tempDir('vault-'), 'vault.json');
    const keys = new VaultKeys([key('k1')]);
    const v = new Vault(keys, new FileVaultStore(file));
    await v.put('github', 'alice', conn('secret-access-token-alice'));
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('secret-access-token-alice');
    expect(text).not.toContain('r-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = new Vault(keys, new FileVaultStore(file));
    expect((await again.get('github', 'alice'))?.accessToken).toBe('secret-access-token-alice');
    expect(await again.list()).toEqual([{ upstream: 'github', agent: 'alice', connectedAt: expect.any(Number) }]);
  });

  it("does not open one user's record copied under another user's name", async () => {
    const file = join(tempDir('vault-'), 'vault.json');
    const store = new FileVaultStore(file);
    const v = new Vault(new VaultKeys([key('k1')]), store);
    await v.put('github', 'alice', conn('alice-token'));
    const raw = await store.get('conn:github\u0000alice');
    await store.set('conn:github\u0000mallory', raw ?? '');
    expect(await v.get('github', 'mallory')).toBeUndefined();
    expect((await v.get('github', 'alice'))?.accessToken).toBe('alice-token');
  });

  it('rotates keys: old records open with the old key and are re-encrypted with the new one', async () => {
    const file = join(tempDir('vault-'), 'vault.json');
    const k1 = key('k1');
    const k2 = key('k2');
    const old = new Vault(new VaultKeys([k1]), new FileVaultStore(file));
    await old.put('github', 'alice', conn('alice-token'));
    await old.putSecret('client:github', { client_id: 'c', client_secret: 's' });
    const rotatedVault = new Vault(new VaultKeys([k2, k1]), new FileVaultStore(file));
    expect((await rotatedVault.get('github', 'alice'))?.accessToken).toBe('alice-token');
    expect(await rotatedVault.rotate()).toEqual({ rotated: 2, unreadable: 0 });
    expect(readFileSync(file, 'utf8')).not.toContain('"k":"k1"');
    // The old key is no longer needed.
    const onlyNew = new Vault(new VaultKeys([k2]), new FileVaultStore(file));
    expect((await onlyNew.get('github', 'alice'))?.accessToken).toBe('alice-token');
    expect(await onlyNew.getSecret('client:github')).toEqual({ client_id: 'c', client_secret: 's' });
    // Without any of its keys nothing opens.
    expect(await new Vault(new VaultKeys([k1]), new FileVaultStore(file)).get('github', 'alice')).toBeUndefined();
  });

  it('a vault whose Redis is away says the upstream is unavailable for now (-32050), not an internal error', async () => {
    // Nothing listens on port 1; no offline queue: every command fails at once, as with Redis down.
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const v = new Vault(new VaultKeys([key('k1')]), new RedisVaultStore(down, 'tollgate-test:'));
    try {
      const err = await v.get('acct', 'alice').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).toJsonRpc(1).error).toMatchObject({
        code: -32050,
        message: expect.stringMatching(/^the token vault is unavailable \(.+\): try again later$/),
      });
      await expect(v.getSecret('s')).rejects.toBeInstanceOf(GatewayError);
    } finally {
      down.disconnect();
    }
  });

  it('seals links and state so that a changed byte or another purpose does not open', () => {
    const keys = new VaultKeys([key('k1')]);
    const sealed = keys.seal({ agent: 'alice' }, 'link');
    expect(keys.open(sealed, 'link')).toEqual({ agent: 'alice' });
    expect(keys.open(sealed, 'state')).toBeUndefined();
    const parts = sealed.split('.');
    const ct = parts[2] ?? '';
    const flipped = `${parts[0]}.${parts[1]}.${ct.slice(0, 5)}${ct[5] === 'A' ? 'B' : 'A'}${ct.slice(6)}`;
    expect(keys.open(flipped, 'link')).toBeUndefined();
    expect(keys.open('garbage', 'link')).toBeUndefined();
  });

  describe('in Redis', async () => {
    const up = await ensureRedis();
    const prefix = `tollgate-test-vault-${process.pid}-${Date.now()}:`;
    const clients: Redis[] = [];
    afterAll(async () => {
      if (!up) return;
      const r = new Redis('redis://127.0.0.1:6379');
      const keys = await r.keys(`${prefix}*`);
      if (keys.length) await r.del(...keys);
      r.disconnect();
      for (const c of clients) c.disconnect();
    });
    const instance = (keys: VaultKeys) => {
      const c = new Redis('redis://127.0.0.1:6379');
      clients.push(c);
      return new Vault(keys, new RedisVaultStore(c, prefix));
    };

    it.skipIf(!up)('is shared by two instances: a connection, a revocation and a single-use marker', async () => {
      const keys = new VaultKeys([key('k1')]);
      const a = instance(keys);
      const b = instance(keys);
      await a.put('github', 'alice', conn('alice-token'));
      await a.put('github', 'bob', conn('bob-token'));
      expect((await b.get('github', 'alice'))?.accessToken).toBe('alice-token');
      expect((await b.list({ upstream: 'github' })).map((c) => c.agent).sort()).toEqual(['alice', 'bob']);
      await b.delete('github', 'alice');
      expect(await a.get('github', 'alice')).toBeUndefined();
      expect((await a.get('github', 'bob'))?.accessToken).toBe('bob-token');
      expect(await a.store.claim('state:n1', 60_000)).toBe(true);
      expect(await b.store.claim('state:n1', 60_000)).toBe(false);
      const reader = new Redis('redis://127.0.0.1:6379');
      clients.push(reader);
      const raw = JSON.stringify(await reader.hgetall(`${prefix}vault`));
      expect(raw).not.toContain('bob-token');
    });

    it.skipIf(!up)('a lock is one instance’s at a time, and a release frees only the holder’s own', async () => {
      const keys = new VaultKeys([key('k1')]);
      const a = instance(keys);
      const b = instance(keys);
      const mine = await a.store.lock('refresh:x', 60_000);
      expect(mine).toBeTypeOf('function');
      expect(await b.store.lock('refresh:x', 60_000)).toBeUndefined();
      await mine?.();
      const theirs = await b.store.lock('refresh:x', 60_000);
      expect(theirs).toBeTypeOf('function');
      await mine?.(); // a late second release must not free b's lock
      expect(await a.store.lock('refresh:x', 60_000)).toBeUndefined();
      await theirs?.();
    });
  });
});
