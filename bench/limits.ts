// Added latency of RedisStore over MemoryStore: p50/p99 of check() over N sequential calls and at
// 32 concurrent callers, with a plain client and with the auto-pipelining client the gateway uses
// (limitsStoreClient: checks issued in one event-loop turn share one write).
// Run: node --import tsx bench/limits.ts [N]  (ROUNDS=5)
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryStore } from '../src/limits/memory-store.js';
import { RedisStore } from '../src/limits/redis-store.js';
import { limitsRedisOptions } from '../src/limits/redis-client.js';
import type { LimitKey, LimitStore } from '../src/limits/store.js';

const N = Number(process.argv[2] ?? 5000);
const prefix = `tollgate-bench:${randomUUID().slice(0, 8)}:`;
// A realistic tool call: per-agent calls + per-agent tokens + a per-server limit, never exhausted.
const keys: LimitKey[] = [
  { key: 'calls', tag: 'agent1', limit: 1_000_000_000, periodMs: 60_000, cost: 1 },
  { key: 'tokens', tag: 'agent1', limit: 1_000_000_000, periodMs: 3_600_000, cost: 500 },
  { key: 'server:everything', tag: 'agent1', limit: 1_000_000_000, periodMs: 1000, cost: 1 },
];

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

let lastRate = 0; // checks/s of the last run
async function measure(store: LimitStore, concurrency: number): Promise<number[]> {
  const lat: number[] = [];
  const per = Math.ceil(N / concurrency);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < per; i++) {
        const t = performance.now();
        const r = await store.check({ keys });
        lat.push(performance.now() - t);
        if (!r.allowed || r.degraded) throw new Error('unexpected denial/degradation in bench');
      }
    }),
  );
  lastRate = lat.length / ((performance.now() - start) / 1000);
  return lat.sort((a, b) => a - b);
}

const client = new Redis({ host: '127.0.0.1', port: 6379, ...limitsRedisOptions() });
const piped = new Redis({ host: '127.0.0.1', port: 6379, ...limitsRedisOptions({ enableAutoPipelining: true }) });
const redis = new RedisStore({ client, prefix });
const redisPiped = new RedisStore({ client: piped, prefix });
await redis.ready();
await redisPiped.ready();
const memory = new MemoryStore();
const rounds = Number(process.env.ROUNDS ?? 5);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[] = [];
const rowStats = () => ({ r50: [] as number[], r99: [] as number[], rate: [] as number[] });
for (const c of [1, 32]) {
  await measure(memory, c); // warm-up
  await measure(redis, c);
  await measure(redisPiped, c);
  // Interleaved rounds, median per percentile: a shared box's noise hits every store alike.
  const stats = { m50: [] as number[], m99: [] as number[], plain: rowStats(), piped: rowStats() };
  for (let i = 0; i < rounds; i++) {
    const m = await measure(memory, c);
    stats.m50.push(pct(m, 50));
    stats.m99.push(pct(m, 99));
    for (const [store, into] of [
      [redis, stats.plain],
      [redisPiped, stats.piped],
    ] as const) {
      const r = await measure(store, c);
      into.rate.push(lastRate);
      into.r50.push(pct(r, 50));
      into.r99.push(pct(r, 99));
    }
  }
  const f = (x: number) => `${(x * 1000).toFixed(0).padStart(5)} µs`;
  const [m50, m99] = [med(stats.m50), med(stats.m99)];
  for (const [label, st] of [
    ['redis', stats.plain],
    ['redis+autopipe', stats.piped],
  ] as const) {
    const [r50, r99] = [med(st.r50), med(st.r99)];
    rows.push(
      `concurrency ${String(c).padStart(2)}  memory p50 ${f(m50)} p99 ${f(m99)} | ${label.padEnd(14)} p50 ${f(r50)} p99 ${f(r99)} | added p50 ${f(r50 - m50)} p99 ${f(r99 - m99)} | ${med(st.rate).toFixed(0)} checks/s`,
    );
  }
}
console.log(`check() with 3 keys, ${N} calls per run, median of ${rounds} rounds, Redis at 127.0.0.1:6379 (loopback)`);
for (const row of rows) console.log(row);
const left = await client.keys(`${prefix}*`);
if (left.length) await client.del(...left);
await redis.close();
await redisPiped.close();
await memory.close();
client.disconnect();
piped.disconnect();
