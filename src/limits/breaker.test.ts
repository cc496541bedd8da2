import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RedisBreaker, RedisDownError, type BreakerOptions } from './breaker.js';

const W = 100;

/** A command whose reply the test controls. */
function command<T = string>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const replyError = (msg: string): Error => Object.assign(new Error(msg), { name: 'ReplyError' });
const never = () => new Promise<never>(() => {});
/** Fake time forward; a nested setImmediate (the watchdog yields twice) runs only on a later step. */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await vi.advanceTimersByTimeAsync(1);
  await vi.advanceTimersByTimeAsync(1);
}

let breakers: RedisBreaker[] = [];
function breaker(opts: Partial<BreakerOptions> = {}) {
  const states: string[] = [];
  const pings = { count: 0 };
  const b = new RedisBreaker({
    windowMs: W,
    probeIntervalMs: 50,
    ping: () => {
      pings.count++;
      return never();
    },
    onStateChange: (s) => states.push(s),
    ...opts,
  });
  breakers.push(b);
  return { b, states, pings };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
});
afterEach(() => {
  for (const b of breakers) b.stop();
  breakers = [];
  vi.useRealTimers();
});

describe('RedisBreaker', () => {
  it('a slow reply is not an outage while Redis answers other commands', async () => {
    const { b, states } = breaker();
    const slow = command();
    const result = b.run(() => slow.promise);
    // Redis keeps answering (a busy queue): 3 health windows pass, the slow command still waits.
    for (let t = 0; t < 3 * W; t += W / 4) {
      await b.run(() => Promise.resolve('other'));
      await advance(W / 4);
    }
    expect(b.isOpen).toBe(false);
    slow.resolve('late but fine');
    await expect(result).resolves.toBe('late but fine');
    expect(states).toEqual([]);
  });

  it('silence for the health window with an unanswered probe opens it and abandons what waits', async () => {
    const { b, states, pings } = breaker();
    const stuck = command();
    const abandoned = vi.fn();
    const result = b.run(() => stuck.promise, abandoned);
    result.catch(() => {});
    await advance(W / 2 + 1);
    expect([b.isOpen, pings.count]).toEqual([false, 1]); // half a window: a probe is written
    await advance(W / 2 + 1);
    expect(b.isOpen).toBe(true);
    await expect(result).rejects.toBeInstanceOf(RedisDownError);
    expect(abandoned).toHaveBeenCalledWith(stuck.promise);
    expect(states).toEqual(['open']);
    // Open: nothing is sent at all.
    const send = vi.fn(() => Promise.resolve('x'));
    await expect(b.run(send)).rejects.toMatchObject({ notSent: true });
    expect(send).not.toHaveBeenCalled();
  });

  it('an answered probe keeps it closed even when the command itself is still queued', async () => {
    let answer!: () => void;
    const { b } = breaker({
      ping: () => new Promise((r) => (answer = () => r('PONG'))),
    });
    const queued = command();
    const result = b.run(() => queued.promise);
    await advance(W / 2 + 1);
    answer();
    await advance(W);
    expect(b.isOpen).toBe(false);
    queued.resolve('ok');
    await expect(result).resolves.toBe('ok');
  });

  it('a failed connection opens it at once, and every waiting command is answered now', async () => {
    const { b, states } = breaker();
    const a = b.run(() => never());
    const c = command();
    const d = b.run(() => c.promise);
    c.reject(new Error('Connection is closed.'));
    await expect(d).rejects.toBeInstanceOf(RedisDownError);
    await expect(a).rejects.toBeInstanceOf(RedisDownError);
    expect(states).toEqual(['open']);
  });

  it('error replies: one fails its call only; three in a row open it; a success resets the count', async () => {
    const { b } = breaker();
    const oom = () => b.run(() => Promise.reject(replyError('OOM command not allowed')));
    await expect(oom()).rejects.toMatchObject({ name: 'ReplyError' });
    await expect(oom()).rejects.toMatchObject({ name: 'ReplyError' });
    await b.run(() => Promise.resolve('ok'));
    await expect(oom()).rejects.toMatchObject({ name: 'ReplyError' });
    await expect(oom()).rejects.toMatchObject({ name: 'ReplyError' });
    expect(b.isOpen).toBe(false);
    await expect(oom()).rejects.toBeInstanceOf(RedisDownError);
    expect(b.isOpen).toBe(true);
  });

  it('closes again once a recovery PING is answered, and at once on reconnect', async () => {
    let up = false;
    const { b, states } = breaker({ ping: () => (up ? Promise.resolve('PONG') : Promise.reject(new Error('down'))) });
    b.trip(new Error('ECONNREFUSED'));
    await advance(500);
    expect(b.isOpen).toBe(true);
    up = true;
    b.reconnected();
    await advance(0);
    expect(b.isOpen).toBe(false);
    expect(states).toEqual(['open', 'closed']);
    await expect(b.run(() => Promise.resolve('again'))).resolves.toBe('again');
  });
});

describe('RedisBreaker with real timers', () => {
  beforeEach(() => {
    vi.useRealTimers();
  });

  it("our own event-loop lag is not Redis's silence: replies already received are read before judging", async () => {
    const { b, states, pings } = breaker({ windowMs: 20 });
    // The reply arrives in the next I/O turn, but the loop is blocked for ten windows first, so
    // the watchdog's timer is long overdue when the loop runs again.
    const result = b.run(() => new Promise((r) => setImmediate(() => r('pong'))));
    const until = performance.now() + 200;
    while (performance.now() < until);
    await expect(result).resolves.toBe('pong');
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); // the watchdog has judged by now
    expect(pings.count).toBe(0); // it saw the reply: not even a probe
    expect(b.isOpen).toBe(false);
    expect(states).toEqual([]);
  });
});
