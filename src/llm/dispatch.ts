// One call's tries: pick a deployment, send, and on a connect error, 429 or 5xx try again — another
// deployment at once if one is usable and untried, else the same one after exponential backoff with
// jitter or the wait its retry-after asked for. A streaming call is committed only once its first
// chunk has arrived, so nothing is ever retried after a byte reached the agent.
import type { Health, Member, Pool, Target } from './balancer.js';
import { rank } from './balancer.js';
import type { LlmConfig } from './runtime.js';
import {
  isTimeout,
  readAll,
  retryAfterMs,
  send,
  type Pools,
  type UpstreamBody,
  type UpstreamHeaders,
} from './upstream.js';

export interface Success {
  ok: true;
  target: Target;
  status: number;
  headers: UpstreamHeaders;
  body: UpstreamBody;
  /** Streaming: the first chunk and the iterator over the rest. */
  first: Buffer | undefined;
  rest: AsyncIterator<Buffer> | undefined;
  /** performance.now() when the chosen try was sent, and when it first answered. */
  sentAt: number;
  firstByteAt: number;
  /** Ends the call's bookkeeping (in-flight counts, the total timeout); idempotent. */
  done(): void;
}

export interface Failure {
  ok: false;
  target: Target | undefined;
  /** HTTP status for the agent; the upstream's own when it answered. */
  status: number;
  headers: UpstreamHeaders;
  /** The upstream's error body when it answered. */
  body: Buffer | undefined;
  message: string;
  timeout: boolean;
  sentAt: number | undefined;
}

export interface DispatchOptions {
  pool: Pool;
  health: Health;
  pools: Pools;
  retries: LlmConfig['retries'];
  stream: boolean;
  path: string;
  request(t: Target): { headers: Record<string, string>; body: Buffer };
}

const ERROR_BODY_CAP = 256 * 1024;

export async function dispatch(o: DispatchOptions): Promise<Success | Failure> {
  const { health, retries } = o;
  const tried = new Set<Target>();
  let last: Failure | undefined;
  for (let attempt = 0; attempt < retries.attempts; attempt++) {
    const now = health.now();
    const ranked = rank(o.pool, health, now);
    if (ranked.length === 0) return last ?? unavailable(o.pool, health, now);
    let pick: Member | undefined = ranked.find((m) => !tried.has(m.target) && m.target.blockedUntil <= now);
    if (!pick) {
      // Everything usable was tried or asked us to wait: the one ready soonest, after its wait.
      const backoff = Math.min(retries.backoffMaxMs, retries.backoffBaseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      const readyAt = (m: Member): number =>
        m.target.blockedUntil > now ? m.target.blockedUntil : tried.has(m.target) ? now + backoff : now;
      pick = ranked.reduce((a, b) => (readyAt(b) < readyAt(a) ? b : a));
      const until = readyAt(pick);
      if (until - now > retries.maxRetryAfterMs) return last ?? unavailable(o.pool, health, now);
      await waitUntil(until, health.now);
      if (!health.usable(pick.target, health.now())) continue;
    }
    tried.add(pick.target);
    const r = await tryOnce(o, pick.target);
    if (r.ok) return r;
    last = r.failure;
    if (!r.retry) return last;
  }
  return last ?? unavailable(o.pool, health, health.now());
}

type Try = Success | { ok: false; failure: Failure; retry: boolean };

async function tryOnce(o: DispatchOptions, t: Target): Promise<Try> {
  const { health } = o;
  const u = t.upstream.config;
  const { headers, body } = o.request(t);
  const sentAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  health.begin(t, health.now());
  const fail = (
    status: number,
    h: UpstreamHeaders,
    b: Buffer | undefined,
    message: string,
    opts: { timeout?: boolean; retry: boolean; breaker: boolean },
  ): Try => {
    clearTimeout(timer);
    health.end(t);
    if (opts.breaker) health.failure(t);
    else health.neutral(t);
    return {
      ok: false,
      retry: opts.retry,
      failure: { ok: false, target: t, status, headers: h, body: b, message, timeout: opts.timeout ?? false, sentAt },
    };
  };
  let res;
  try {
    res = await send(o.pools.get(u), { path: u.basePath + o.path, headers, body, u });
  } catch (err) {
    const timeout = isTimeout(err);
    // Connect errors are retried (nothing was processed); a timed-out call may still be running upstream.
    return fail(
      timeout ? 504 : 502,
      {},
      undefined,
      timeout ? `upstream ${u.name} timed out` : `upstream ${u.name} unreachable: ${(err as Error).message}`,
      { timeout, retry: !timeout, breaker: true },
    );
  }
  if (res.statusCode >= 400) {
    const errBody = await readAll(res.body, ERROR_BODY_CAP).catch(() => undefined);
    const wait = retryAfterMs(res.headers);
    if (wait !== undefined && (res.statusCode === 429 || res.statusCode >= 500)) health.block(t, health.now() + wait);
    const retry = res.statusCode === 429 || res.statusCode >= 500;
    return fail(res.statusCode, res.headers, errBody, `upstream ${u.name} answered ${res.statusCode}`, {
      retry,
      breaker: res.statusCode >= 500,
    });
  }
  // The rest of the total timeout bounds the body (a stream's whole length); undici's timer covered the wait for headers.
  const resBody = res.body;
  timer = setTimeout(
    () => resBody.destroy(new DOMException('total timeout', 'TimeoutError')),
    Math.max(1, u.timeouts.totalMs - (performance.now() - sentAt)),
  );
  let first: Buffer | undefined;
  let rest: AsyncIterator<Buffer> | undefined;
  if (o.stream) {
    rest = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    try {
      const n = await rest.next();
      first = n.done ? Buffer.alloc(0) : n.value;
    } catch (err) {
      const timeout = isTimeout(err);
      return fail(
        timeout ? 504 : 502,
        {},
        undefined,
        timeout
          ? `upstream ${u.name} timed out before the first chunk`
          : `upstream ${u.name} failed before the first chunk`,
        { timeout, retry: !timeout, breaker: true },
      );
    }
  }
  const firstByteAt = performance.now();
  health.success(t, firstByteAt - sentAt);
  let ended = false;
  return {
    ok: true,
    target: t,
    status: res.statusCode,
    headers: res.headers,
    body: res.body,
    first,
    rest,
    sentAt,
    firstByteAt,
    done: () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      health.end(t);
    },
  };
}

function unavailable(pool: Pool, _health: Health, now: number): Failure {
  const reopen = pool.members.map((m) => m.target.openUntil).filter((x) => x > now);
  const wait = reopen.length > 0 ? Math.min(...reopen) - now : 1000;
  return {
    ok: false,
    target: undefined,
    status: 503,
    headers: { 'retry-after': String(Math.max(1, Math.ceil(wait / 1000))) },
    body: undefined,
    message: `no healthy deployment for model ${pool.name}`,
    timeout: false,
    sentAt: undefined,
  };
}

/** Waits until the clock reads `until` (re-checks: timers may fire a hair early). */
async function waitUntil(until: number, now: () => number): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const left = until - now();
    if (left <= 0) return;
    await new Promise((r) => setTimeout(r, Math.ceil(left)));
  }
}
