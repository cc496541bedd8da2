// RedisStore against the real local Redis: same answers as MemoryStore, atomic under contention
// from two processes, NOSCRIPT recovery, and bounded, documented behaviour while Redis is away.
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { MemoryStore } from '../../src/limits/memory-store.js';
import { reserve } from '../../src/limits/reservation.js';
import { RedisStore, type FailureMode, type RedisStoreOptions } from '../../src/limits/redis-store.js';
import { limitsClusterOptions, limitsRedisOptions } from '../../src/limits/redis-client.js';
import type { CheckResult, LimitKey, LimitStore } from '../../src/limits/store.js';
import { LIMITS_SHA } from '../../src/limits/lua.js';
import { clock, sequences } from '../fixtures/limits-sequences.js';
import { ensureRedis, startCluster, startProxy, REDIS_HOST, REDIS_PORT, type TestCluster } from '../helpers/redis.js';
import { nodeArgs } from '../helpers/compiled.js';
import { waitUntil } from '../helpers/wait.js';

const available = await ensureRedis();
if (!available) {
  console.warn(
    `\n${'!'.repeat(78)}\n!!! SKIPPING the Redis limit tests: no Redis at ${REDIS_HOST}:${REDIS_PORT} and redis-server could not be started\n${'!'.repeat(78)}\n`,
  );
}

const RUN = `tollgate-test:${randomUUID().slice(0, 8)}:`;
let seq = 0;
const prefix = () => `${RUN}${++seq}:`;
const clients: Redis[] = [];
const stores: Array<RedisStore | MemoryStore> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function client(port = REDIS_PORT): Promise<Redis> {
  const c = new Redis({ host: REDIS_HOST, port, ...limitsRedisOptions() });
  c.on('error', () => {}); // the store reports errors itself; this only silences ioredis after close
  clients.push(c);
  await new Promise<void>((resolve) => c.once('ready', resolve));
  return c;
}
// The store's own default (50 ms) is for production; on a loaded test machine a slow answer would turn
// into "Redis is away". Tests give Redis time to answer unless a timeout is what they are about.
const ANSWER_MS = 10_000;
// Outage tests: long enough that a loaded machine never times out a live Redis, short enough to wait for.
const OUTAGE_MS = 1000;
function redisStore(opts: Partial<RedisStoreOptions> & { client: Redis | Cluster }): RedisStore {
  const s = new RedisStore({ prefix: prefix(), timeoutMs: ANSWER_MS, ...opts });
  stores.push(s);
  return s;
}
/**
 * For the fake-clock sequences: Redis expires a bucket in real time (PX = its TAT minus the fake
 * now), so on a slow machine a key could vanish between two fake milliseconds. The script treats a
 * passed TAT exactly like a missing key, so PERSIST after each write changes no answer: it only
 * makes the replay independent of how fast the machine runs it. A key can still expire between the
 * script and the PERSIST (its PX can be 100 ms, and a loaded machine can take longer between two
 * commands): an admitted check whose key is gone by then throws RealTimeExpiry, and the test replays
 * the sequence on fresh keys (an answer of the machine's speed, not of the store).
 */
class RealTimeExpiry extends Error {}
function fakeTimeOnly(s: RedisStore, c: Redis | Cluster, p: string): LimitStore {
  const persist = async (keys: LimitKey[], written: boolean) => {
    for (const k of keys) {
      const name = k.tag === undefined ? `${p}r:{${k.key}}` : `${p}r:{${k.tag}}:${k.key}`;
      // 0: no such key, or one already without a TTL (persisted after an earlier write).
      if ((await c.persist(name)) === 0 && written && (await c.exists(name)) === 0)
        throw new RealTimeExpiry(`${k.key} expired in real time between the check and its PERSIST`);
    }
  };
  return {
    check: async (req) => {
      const r = await s.check(req);
      await persist(req.keys, r.allowed);
      return r;
    },
    peek: (keys) => s.peek(keys),
    refund: async (keys, via) => {
      await s.refund(keys, via);
      await persist(keys, false);
    },
    charge: async (keys, via) => {
      await s.charge(keys, via);
      await persist(keys, false);
    },
    acquire: (key, max, ttl) => s.acquire(key, max, ttl),
    close: () => s.close(),
  };
}
async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await f();
  return [v, performance.now() - t];
}

afterAll(async () => {
  for (const s of stores) await s.close();
  if (available) {
    const admin = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    const keys = await admin.keys(`${RUN}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  }
  for (const c of clients) c.disconnect();
});

describe.skipIf(!available)('RedisStore on a real Redis', () => {
  it.each(Object.keys(sequences))(
    'gives the same answers as the memory store: %s',
    async (name) => {
      const seqFn = sequences[name]!;
      const mc = clock();
      const mem = new MemoryStore({ now: mc.now, sweepIntervalMs: 0 });
      stores.push(mem);
      const expected = await seqFn(mem, mc, (n) => n);
      for (let attempt = 1; ; attempt++) {
        const rc = clock();
        const [c, p] = [await client(), prefix()];
        const red = fakeTimeOnly(redisStore({ client: c, prefix: p, now: rc.now }), c, p);
        try {
          expect(await seqFn(red, rc, (n) => n)).toEqual(expected);
          return;
        } catch (err) {
          if (!(err instanceof RealTimeExpiry) || attempt === 5) throw err;
        }
      }
    },
    300_000, // thousands of sequential round trips: minutes on a loaded machine, not a deadline
  );

  it('uses the Redis clock, and idle buckets expire', async () => {
    const c = await client();
    const p = prefix();
    const s = redisStore({ client: c, prefix: p });
    // 10 per 20 s: one token every 2 s, so a loaded machine never refills one between two checks.
    const key: LimitKey = { key: 'clock', limit: 10, periodMs: 20_000, cost: 1 };
    for (let i = 0; i < 10; i++) expect((await s.check({ keys: [key] })).allowed).toBe(true);
    const denied = await s.check({ keys: [key] });
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(2000);
    const ttl = await c.pttl(`${p}r:{clock}`); // PX = until the TAT passes: idle keys vanish
    expect(ttl).toBeGreaterThan(10_000);
    expect(ttl).toBeLessThanOrEqual(20_000);
    await sleep(denied.retryAfterMs + 5);
    expect((await s.check({ keys: [key] })).allowed).toBe(true);
    expect((await s.check({ keys: [key] })).allowed).toBe(false);
  });

  it('keeps all-or-nothing across tags (cluster slot groups) by refunding admitted groups', async () => {
    const s = redisStore({ client: await client(), splitByTag: true });
    const a: LimitKey = { key: 'a', tag: 'agent-x', limit: 5, periodMs: 60_000, cost: 1 };
    const b: LimitKey = { key: 'global', tag: 'global', limit: 2, periodMs: 60_000, cost: 1 };
    expect((await s.check({ keys: [a, b] })).allowed).toBe(true);
    expect((await s.check({ keys: [a, b] })).allowed).toBe(true);
    const r = await s.check({ keys: [a, b] });
    expect(r).toMatchObject({
      allowed: false,
      reason: 'limited',
      results: [
        { key: 'a', allowed: true, remaining: 3 },
        { key: 'global', allowed: false, remaining: 0 },
      ],
    });
    expect(r.retryAfterMs).toBeGreaterThan(20_000);
    expect((await s.peek([a])).results[0]!.remaining).toBe(3);
  });

  it('recovers from SCRIPT FLUSH: EVALSHA gets NOSCRIPT, EVAL re-caches the script', async () => {
    const c = await client();
    const errors: Error[] = [];
    const s = redisStore({ client: c, onError: (e) => errors.push(e) });
    expect(await s.ready()).toBe(true);
    expect(await c.script('EXISTS', LIMITS_SHA)).toEqual([1]);
    const key: LimitKey = { key: 'flush', limit: 5, periodMs: 60_000, cost: 1 };
    expect((await s.check({ keys: [key] })).results[0]!.remaining).toBe(4);
    await c.script('FLUSH');
    expect(await c.script('EXISTS', LIMITS_SHA)).toEqual([0]);
    const after = await s.check({ keys: [key] });
    expect(after).toMatchObject({ allowed: true, via: 'store', results: [{ remaining: 3 }] });
    expect(after.degraded).toBeUndefined();
    expect(await c.script('EXISTS', LIMITS_SHA)).toEqual([1]);
    expect((await s.check({ keys: [key] })).results[0]!.remaining).toBe(2);
    expect(errors).toEqual([]);
    expect(s.state).toBe('healthy');
  });

  it('limits concurrency: max leases, idempotent release, TTL reclaims leaks', async () => {
    const c = await client();
    const p = prefix();
    const s = redisStore({ client: c, prefix: p });
    const TTL = 2000; // long enough that no lease expires between these calls on a loaded machine
    const [a, b, d] = [
      await s.acquire('agent1', 2, TTL),
      await s.acquire('agent1', 2, TTL),
      await s.acquire('agent1', 2, TTL),
    ];
    expect([a.ok, b.ok, d.ok]).toEqual([true, true, false]);
    await a.release();
    await a.release();
    await d.release();
    expect(await c.zcard(`${p}c:{agent1}`)).toBe(1);
    expect((await s.acquire('agent1', 2, TTL)).ok).toBe(true);
    expect((await s.acquire('agent1', 2, TTL)).ok).toBe(false);
    // Nobody released: the leases die with their TTL, and so does the key.
    await waitUntil(async () => (await c.exists(`${p}c:{agent1}`)) === 0, 4 * TTL);
    expect((await s.acquire('agent1', 2, TTL)).ok).toBe(true);
  });

  it('a long queue on a healthy Redis is not an outage: every check waits for its own answer', async () => {
    // 40 000 checks at once on one connection: the last answers come long after the health window
    // (the old 50 ms per-command timeout degraded here), but answers keep flowing, so none is
    // mistaken for an outage and exactly the limit is admitted. The window is the default 500 ms
    // (with 200 ms, a loaded CI machine once went that long without an answer reaching the test).
    const states: string[] = [];
    const errors: string[] = [];
    const s = redisStore({
      client: await client(),
      timeoutMs: 500,
      onStateChange: (st) => states.push(st),
      onError: (e) => errors.push(e.message),
    });
    const key: LimitKey = { key: 'queue', limit: 30_000, periodMs: 1e12, cost: 1 }; // nothing refills meanwhile
    const rs = await Promise.all(Array.from({ length: 40_000 }, () => s.check({ keys: [key] })));
    expect(rs.filter((r) => r.degraded)).toHaveLength(0);
    expect(rs.filter((r) => r.allowed)).toHaveLength(30_000);
    expect([states, errors]).toEqual([[], []]);
  });

  it('two processes, 64 concurrent clients, one key with limit N: exactly N admitted', async () => {
    const N = 500;
    const env = {
      ...process.env,
      LIMITS_PREFIX: prefix(),
      LIMITS_KEY: 'hammer',
      LIMITS_LIMIT: String(N),
      LIMITS_CLIENTS: '32',
      LIMITS_ATTEMPTS: '25',
    };
    const workers = [0, 1].map(() =>
      spawn(process.execPath, nodeArgs('test/fixtures/limits-worker.ts'), {
        env,
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const lines = workers.map((w) => createInterface({ input: w.stdout! })[Symbol.asyncIterator]());
    for (const l of lines) expect((await l.next()).value).toBe('READY');
    for (const w of workers) w.stdin!.write('go\n');
    const totals = await Promise.all(
      lines.map(
        async (l) =>
          JSON.parse((await l.next()).value as string) as { admitted: number; denied: number; degraded: number },
      ),
    );
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
    expect(totals.reduce((n, t) => n + t.admitted, 0)).toBe(N);
    expect(totals.reduce((n, t) => n + t.denied, 0)).toBe(64 * 25 - N);
    expect(totals.every((t) => t.degraded === 0 && t.admitted > 0)).toBe(true);
  });
});

describe.skipIf(!available)('RedisStore when Redis goes away', () => {
  const key: LimitKey = { key: 'outage', limit: 5, periodMs: 60_000, cost: 1 };
  const expectations: Record<FailureMode, (r: CheckResult[]) => void> = {
    fail_open: (rs) => expect(rs.every((r) => r.allowed && r.via === 'none' && r.degraded)).toBe(true),
    fail_closed: (rs) =>
      expect(rs.every((r) => !r.allowed && r.reason === 'store_unavailable' && r.retryAfterMs > 0)).toBe(true),
    // A fresh per-instance bucket: it does not know the 3 already used in Redis.
    local: (rs) =>
      expect(rs.map((r) => [r.allowed, r.via])).toEqual([
        ...Array(5).fill([true, 'fallback']),
        ...Array(rs.length - 5).fill([false, 'fallback']),
      ]),
  };

  it.each(['fail_open', 'fail_closed', 'local'] as const)(
    '%s: bounded calls while the proxy is down, limits resume when it is back',
    async (mode) => {
      const proxy = await startProxy();
      const states: string[] = [];
      const s = redisStore({
        client: await client(proxy.port),
        failureMode: mode,
        timeoutMs: OUTAGE_MS,
        probeIntervalMs: 100,
        onStateChange: (st) => states.push(st),
      });
      for (let i = 0; i < 3; i++) expect(await s.check({ keys: [key] })).toMatchObject({ allowed: true, via: 'store' });

      await proxy.close();
      const during: CheckResult[] = [];
      let slowest = 0;
      const until = Date.now() + 600;
      while (Date.now() < until || during.length < 10) {
        const [r, ms] = await timed(() => s.check({ keys: [key] }));
        during.push(r);
        slowest = Math.max(slowest, ms);
        await sleep(20);
      }
      expect(slowest).toBeLessThan(2 * OUTAGE_MS); // no call waits out more than one timeout
      expectations[mode](during);
      const [lease, leaseMs] = await timed(() => s.acquire('outage', 1, 1000));
      expect(lease.ok).toBe(mode !== 'fail_closed');
      expect(leaseMs).toBeLessThan(2 * OUTAGE_MS);
      await lease.release();
      expect(states).toEqual(['degraded']);

      await proxy.reopen();
      await waitUntil(() => s.state === 'healthy', 20_000);
      expect(states).toEqual(['degraded', 'healthy']);
      const after = [];
      for (let i = 0; i < 3; i++) after.push(await s.check({ keys: [key] }));
      expect(after.map((r) => [r.allowed, r.via])).toEqual([
        [true, 'store'],
        [true, 'store'],
        [false, 'store'],
      ]);
      await proxy.close();
    },
  );

  it('reservations reconcile with the backend that charged them, across an outage', async () => {
    const proxy = await startProxy();
    const s = redisStore({
      client: await client(proxy.port),
      failureMode: 'local',
      timeoutMs: OUTAGE_MS,
      probeIntervalMs: 100,
    });
    const budget = { key: 'tokens', tag: 'agent1', limit: 1000, periodMs: 3_600_000 }; // nothing replenishes meanwhile
    const left = async () => (await s.peek([{ ...budget, cost: 0 }])).results[0]!.remaining;
    const r1 = await reserve(s, [budget], 100);
    expect(r1.result.via).toBe('store');
    await r1.settle(40);
    expect(await left()).toBe(960);
    await proxy.close();
    const r2 = await reserve(s, [budget], 300);
    expect(r2.result).toMatchObject({ allowed: true, via: 'fallback', degraded: true });
    await proxy.reopen();
    await waitUntil(() => s.state === 'healthy', 20_000);
    await r2.cancel(); // refunds the local bucket it came from, not Redis
    await r2.cancel();
    expect(await left()).toBe(960);
    await proxy.close();
  });

  it('a blackholed Redis (paused proxy) costs one health window, then nothing until it answers again', async () => {
    const proxy = await startProxy();
    const c = await client(proxy.port);
    const s = redisStore({ client: c, failureMode: 'fail_closed', timeoutMs: 200, probeIntervalMs: 100 });
    expect((await s.check({ keys: [key] })).allowed).toBe(true);
    proxy.pause();
    const [first, firstMs] = await timed(() => s.check({ keys: [key] }));
    expect(first.reason).toBe('store_unavailable');
    expect(firstMs).toBeGreaterThanOrEqual(190); // silence for the whole window, not one slow reply
    expect(firstMs).toBeLessThan(5000);
    expect(s.state).toBe('degraded');
    const sent = vi.spyOn(c, 'evalsha');
    const next = await s.check({ keys: [key] });
    expect(next.reason).toBe('store_unavailable');
    expect(sent).not.toHaveBeenCalled(); // degraded: Redis is not even tried
    sent.mockRestore();
    proxy.resume();
    await waitUntil(() => s.state === 'healthy', 10_000);
    // The abandoned check ran on Redis once bytes flowed again (before the PING that closed the
    // breaker: one connection answers in order) and its charge was refunded, as the call had been
    // refused: Redis counts exactly the admitted checks, the first one and this one.
    const r = await s.check({ keys: [key] });
    expect(r).toMatchObject({ via: 'store', allowed: true, results: [{ remaining: 3 }] });
    await proxy.close();
  });

  it('never hangs when Redis was never reachable', async () => {
    const proxy = await startProxy();
    await proxy.close();
    const c = new Redis({ host: REDIS_HOST, port: proxy.port, ...limitsRedisOptions() });
    c.on('error', () => {});
    clients.push(c);
    const s = redisStore({ client: c, failureMode: 'fail_closed', timeoutMs: OUTAGE_MS });
    const [ready, readyMs] = await timed(() => s.ready(300));
    expect(ready).toBe(false);
    expect(readyMs).toBeLessThan(300 + OUTAGE_MS); // its own wait, not a hang
    const [r, ms] = await timed(() => s.check({ keys: [key] }));
    expect(r).toMatchObject({ allowed: false, reason: 'store_unavailable', degraded: true });
    expect(ms).toBeLessThan(OUTAGE_MS); // answered at once, without waiting for a timeout
  });
});

// Our own 3-master cluster (the shared Redis is untouched); skipped loudly if one cannot be built.
describe.skipIf(!available)('RedisStore on a Redis Cluster', () => {
  let cluster: TestCluster | undefined;
  let cc: Cluster;
  afterAll(async () => {
    cc?.disconnect();
    await cluster?.stop();
  });
  const connected = async (): Promise<Cluster | undefined> => {
    if (cc) return cc;
    cluster = await startCluster();
    if (!cluster) {
      console.warn(
        '!!! SKIPPING the Redis Cluster limit tests: could not start a local cluster (redis-server/redis-cli)',
      );
      return undefined;
    }
    cc = new Cluster(
      cluster.ports.map((port) => ({ host: REDIS_HOST, port })),
      limitsClusterOptions(),
    );
    cc.on('error', () => {});
    await new Promise<void>((resolve) => cc.once('ready', resolve));
    return cc;
  };

  it('loads the script on every master and answers like the memory store', async () => {
    const c = await connected();
    if (!c) return;
    const s = redisStore({ client: c, now: clock().now });
    expect(await s.ready()).toBe(true);
    for (const node of c.nodes('master')) expect(await node.script('EXISTS', LIMITS_SHA)).toEqual([1]);
    for (const [name, seqFn] of Object.entries(sequences)) {
      const mc = clock();
      const mem = new MemoryStore({ now: mc.now, sweepIntervalMs: 0 });
      stores.push(mem);
      const rc = clock();
      const p = prefix();
      const red = fakeTimeOnly(redisStore({ client: c, prefix: p, now: rc.now }), c, p);
      expect(await seqFn(red, rc, (n) => n), name).toEqual(await seqFn(mem, mc, (n) => n));
    }
  }, 600_000);

  it('runs one script per slot group, all-or-nothing across them, and survives SCRIPT FLUSH', async () => {
    const c = await connected();
    if (!c) return;
    const errors: Error[] = [];
    const s = redisStore({ client: c, onError: (e) => errors.push(e) });
    // Many tags land on different masters; a per-agent pair shares one slot (no CROSSSLOT).
    const keys: LimitKey[] = ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => ({
      key: `calls`,
      tag: `agent-${t}`,
      limit: 5,
      periodMs: 60_000,
      cost: 1,
    }));
    const global: LimitKey = { key: 'global', limit: 2, periodMs: 60_000, cost: 1 };
    const pair: LimitKey[] = [
      { key: 'calls', tag: 'agent-z', limit: 9, periodMs: 60_000, cost: 1 },
      { key: 'tokens', tag: 'agent-z', limit: 900, periodMs: 60_000, cost: 100 },
    ];
    expect((await s.check({ keys: pair })).results.map((r) => r.remaining)).toEqual([8, 800]);
    for (let i = 0; i < 2; i++) expect((await s.check({ keys: [...keys, global] })).allowed).toBe(true);
    const denied = await s.check({ keys: [...keys, global] });
    expect(denied).toMatchObject({ allowed: false, reason: 'limited' });
    expect(denied.results.map((r) => r.allowed)).toEqual([true, true, true, true, true, true, false]);
    expect((await s.peek(keys)).results.map((r) => r.remaining)).toEqual([3, 3, 3, 3, 3, 3]);
    for (const node of c.nodes('master')) await node.script('FLUSH');
    expect((await s.check({ keys })).results.map((r) => r.remaining)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(errors).toEqual([]);
    const lease = await s.acquire('agent-a', 1, 1000);
    expect([lease.ok, (await s.acquire('agent-a', 1, 1000)).ok]).toEqual([true, false]);
    await lease.release();
    expect((await s.acquire('agent-a', 1, 1000)).ok).toBe(true);
  });
});
