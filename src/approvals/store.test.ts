import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureRedis, REDIS_HOST, REDIS_PORT, startProxy } from '../../test/helpers/redis.js';
import { waitUntil } from '../../test/helpers/wait.js';
import { RedisApprovalStore } from './redis-store.js';
import { MemoryApprovalStore, type Approval, type ApprovalStore } from './store.js';

const approval = (id: string, holder: string): Approval => ({
  id,
  agent: 'a',
  tool: 'x__y',
  server: 'x',
  description: null,
  args: { n: 1 },
  sha256: 'a'.repeat(64),
  rule: 'r',
  message: null,
  approvers: [],
  holder,
  requestedAt: 1,
  expiresAt: 2,
  status: 'pending',
});

async function decidesOnce(s1: ApprovalStore, s2: ApprovalStore): Promise<void> {
  await s1.add(approval('apr_1', 'one'));
  const told = new Promise<Approval>((r) => s1.watch('apr_1', r));
  const first = await s2.decide('apr_1', { status: 'denied', by: 'admin#1', reason: 'no' }, 10);
  expect(first).toMatchObject({ status: 'denied', decidedBy: 'admin#1', reason: 'no' });
  expect(await told).toMatchObject({ status: 'denied' });
  // The loser of a race learns the earlier decision.
  expect(await s1.decide('apr_1', { status: 'timed_out', by: '@gateway' }, 11)).toMatchObject({ status: 'denied' });
  expect(await s1.decide('apr_missing', { status: 'approved', by: 'x' }, 11)).toBeUndefined();
}

describe('memory approval store', () => {
  it('decides once and tells the watcher', async () => {
    const s = new MemoryApprovalStore();
    await decidesOnce(s, s);
  });
});

const available = await ensureRedis();
const prefix = `tollgate-test:approvals-store:${randomUUID().slice(0, 8)}:`;
const log = pino({ level: 'silent' });
const make = (instance: string) =>
  new RedisApprovalStore({
    client: new Redis(REDIS_PORT, REDIS_HOST),
    subscriber: new Redis(REDIS_PORT, REDIS_HOST),
    prefix,
    instance,
    log,
  });

describe.runIf(available)('Redis approval store (two instances)', () => {
  const redis = new Redis(REDIS_PORT, REDIS_HOST);
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('a decision on one instance reaches the watcher on the other, once', async () => {
    const one = make('one');
    const two = make('two');
    await one.subscribed; // the watcher hears decisions from here on
    try {
      await decidesOnce(one, two);
      expect((await two.list()).map((a) => a.status)).toEqual(['denied']);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('a pending approval whose holder stopped is listed as void', async () => {
    const gone = make('gone');
    const other = make('other');
    try {
      await gone.add(approval('apr_2', 'gone'));
      await redis.del(`${prefix}{approvals}:holder:gone`); // its heartbeat lapsed (the process died)
      const seen = (await other.list()).find((a) => a.id === 'apr_2');
      expect(seen).toMatchObject({ status: 'void', decidedBy: '@gateway' });
      expect(seen?.reason).toContain('gone');
    } finally {
      await gone.close();
      await other.close();
    }
  });

  it('a decision it cannot read when told (Redis too slow) does not end the process; it is read at the next heartbeat', async () => {
    const proxy = await startProxy();
    const lines: string[] = [];
    const holder = new RedisApprovalStore({
      // The holder's commands go through a link the test can stall; its subscription does not.
      client: new Redis(proxy.port, REDIS_HOST, { commandTimeout: 300, maxRetriesPerRequest: 0 }),
      subscriber: new Redis(REDIS_PORT, REDIS_HOST),
      prefix,
      instance: 'slow',
      log: pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }),
      heartbeatMs: 200,
    });
    const other = make('other-slow');
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      await holder.subscribed;
      await holder.add(approval('apr_5', 'slow'));
      const told = new Promise<Approval>((r) => holder.watch('apr_5', r));
      proxy.pause();
      await other.decide('apr_5', { status: 'approved', by: 'admin#1' }, 10);
      // Told of the decision on its subscription, the holder cannot read it over the stalled link.
      await waitUntil(() => unhandled.length > 0 || lines.some((l) => l.includes('cannot read the decision')), 10_000);
      expect(unhandled).toEqual([]);
      proxy.resume();
      expect(await told).toMatchObject({ status: 'approved', decidedBy: 'admin#1' });
    } finally {
      process.off('unhandledRejection', onUnhandled);
      proxy.resume();
      await holder.close();
      await other.close();
      await proxy.close();
    }
  });
});
