// The authorization server's store, in memory (with its file) and in Redis: the operations a login
// relies on — one-time take (codes), first-writer-wins (signing keys), counters (login attempts).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryOAuthStore, RedisOAuthStore, type OAuthStore } from './store.js';
import { ensureRedis, REDIS_PORT } from '../../test/helpers/redis.js';
import { tempDir } from '../../test/helpers/tmp.js';

const prefix = `tollgate-test:${randomBytes(6).toString('hex')}:oauth:`;
const redisUp = await ensureRedis();
const redis = redisUp ? new Redis({ port: REDIS_PORT, host: '127.0.0.1' }) : undefined;

afterAll(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const stores: [string, () => OAuthStore][] = [
  ['memory', () => new MemoryOAuthStore()],
  ...(redis ? ([['redis', () => new RedisOAuthStore(redis.duplicate(), prefix)]] as [string, () => OAuthStore][]) : []),
];

it.skipIf(!redis)('redis store: a counter expires with its window, which the first increment starts', async () => {
  // Counted and expired by a script, not PEXPIRE NX (Redis 7 only: on older servers the counters of
  // login failures and pending logins never expired).
  const s = new RedisOAuthStore(redis!.duplicate(), prefix);
  const k = `n:${randomBytes(4).toString('hex')}`;
  await s.incr(k, 60_000);
  const first = await redis!.pttl(prefix + k);
  expect(first).toBeGreaterThan(0);
  expect(first).toBeLessThanOrEqual(60_000);
  await s.incr(k, 3_600_000);
  expect(await redis!.pttl(prefix + k)).toBeLessThanOrEqual(60_000); // the window is not restarted
});

describe.each(stores)('%s store', (_, make) => {
  it('takes a value once, stores first-writer-wins, counts, lists and expires', async () => {
    const s = make();
    const k = randomBytes(4).toString('hex');
    await s.set(`code:${k}`, { a: 1 }, 60_000);
    const [first, second] = await Promise.all([s.take(`code:${k}`), s.take(`code:${k}`)]);
    expect([first, second].filter(Boolean)).toEqual([{ a: 1 }]);
    expect(await s.setIfAbsent(`key:${k}`, 'one')).toBe(true);
    expect(await s.setIfAbsent(`key:${k}`, 'two')).toBe(false);
    expect(await s.get(`key:${k}`)).toBe('one');
    expect(await s.incr(`n:${k}`, 60_000)).toBe(1);
    expect(await s.incr(`n:${k}`, 60_000)).toBe(2);
    expect(await s.incr(`n:${k}`, 60_000, -1)).toBe(1); // a place given back (login attempts)
    await s.set(`grant:${k}:1`, { g: 1 });
    await s.set(`grant:${k}:2`, { g: 2 });
    expect(
      (await s.list(`grant:${k}:`))
        .map((e) => e.value)
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual([{ g: 1 }, { g: 2 }]);
    await s.set(`short:${k}`, 'x', 1);
    await new Promise((r) => setTimeout(r, 5)); // outlive a 1 ms entry: expiry is what is tested
    expect(await s.get(`short:${k}`)).toBeUndefined();
    await s.close();
  });
});

it('the file store keeps its entries across a restart, expired ones not', async () => {
  const file = join(tempDir('tollgate-oauth-store-'), 'oauth.json');
  const clock = { ms: 1_000_000 };
  const a = new MemoryOAuthStore(file, () => clock.ms);
  await a.set('client:x', { id: 'x' });
  await a.set('code:y', 'gone', 1000);
  clock.ms += 1000;
  const b = new MemoryOAuthStore(file, () => clock.ms);
  expect(await b.get('client:x')).toEqual({ id: 'x' });
  expect(await b.get('code:y')).toBeUndefined();
});

it('the memory store forgets expired entries nobody reads again (abandoned logins, spent tokens)', async () => {
  const clock = { ms: 1_000_000 };
  const s = new MemoryOAuthStore(undefined, () => clock.ms);
  await s.set('client:x', { id: 'x' });
  for (let i = 0; i < 1000; i++) await s.set(`txn:${i}`, { i }, 60_000);
  for (let i = 0; i < 1000; i++) await s.incr(`login-fail:u:${i}`, 60_000);
  expect(s.size).toBe(2001);
  clock.ms += 10 * 60_000;
  await s.set('txn:new', { i: 'new' }, 60_000);
  expect(s.size).toBe(2); // the client and the new login: never read, the expired ones are gone anyway
});

it('the file store writes only what must survive a restart: a pending login does not rewrite the file', async () => {
  const file = join(tempDir('tollgate-oauth-store-'), 'oauth.json');
  const a = new MemoryOAuthStore(file);
  await a.set('client:x', { id: 'x' });
  await a.set('grant:g', { g: 1 }, 30 * 24 * 3600_000);
  const written = readFileSync(file, 'utf8');
  // What anyone can make by opening /authorize (or a code, a counter): memory only.
  await a.set('txn:t', { t: 1 }, 600_000);
  await a.set('code:c', 'c', 60_000);
  await a.take('code:c');
  await a.del('txn:t');
  expect(readFileSync(file, 'utf8')).toBe(written);
  await a.set('txn:u', { t: 2 }, 600_000);
  const b = new MemoryOAuthStore(file);
  expect(await b.get('client:x')).toEqual({ id: 'x' });
  expect(await b.get('grant:g')).toEqual({ g: 1 });
  expect(await b.get('txn:u')).toBeUndefined();
});
