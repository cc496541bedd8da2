// When is Redis down? The circuit breaker of the Redis limits store.
//
// A slow reply is not an outage. Redis answers the commands of one connection in order, so a busy
// Redis (a queue of scripts) or a busy gateway (event-loop lag) still makes replies arrive, only
// later; and a reply that came in while our event loop was blocked is already in the socket buffer.
// A fixed per-command timer cannot tell these apart from a dead Redis and, once it fires, every
// instance falls back to its own limits: that admitted 155–290 calls against a limit of 100.
//
// So the breaker opens only on evidence that Redis is gone:
// - at once when the connection fails (refused, reset, closed: ioredis rejects the commands and
//   emits 'error'), since then no reply can come;
// - when commands are waiting and NOTHING came back from Redis for the whole health window
//   (`windowMs`), and a PING written half a window ago is unanswered too (the probe starts the clock
//   from a write that certainly happened, whatever our own lag before the first write was). Before
//   judging, the breaker yields to the event loop's I/O phase (twice), so replies already received
//   are read first: our own lag is never counted as Redis's silence;
// - after `failuresToOpen` consecutive failed commands (error replies such as OOM or READONLY, or a
//   Cluster command that waited `maxWaitMs` while other nodes answered: one dead node among live ones).
// While closed, a command waits for its reply (bounded by the rules above); when the breaker opens,
// every waiting command is abandoned at once and answered by the failure mode. While open, nothing
// is sent but one PING at a time (every `probeIntervalMs` after a failed one, at once when the client
// reconnects); its answer closes the breaker again.

export interface BreakerOptions {
  /** No reply at all for this long while commands wait (and an unanswered probe) = Redis is down. */
  windowMs: number;
  /**
   * A single command waiting this long fails (counted as a failure) even while other replies flow.
   * Only for several connections (a Cluster: one dead node among live ones); on one connection
   * replies come in order, so a reply to a later command proves the earlier one was answered or is
   * next. Default: no such cap.
   */
  maxWaitMs?: number;
  /** Consecutive failed commands that open the breaker. Default 3. */
  failuresToOpen?: number;
  /** While open, how often to PING. */
  probeIntervalMs: number;
  /** One PING on the store's connection (any reply proves Redis is reading it). */
  ping: () => Promise<unknown>;
  onStateChange?: (state: 'open' | 'closed', err?: Error) => void;
}

/** The call was not sent, or was abandoned, because Redis counts as down. */
export class RedisDownError extends Error {
  override readonly name = 'RedisDownError';
  /** Why Redis counts as down. */
  readonly reason: Error;
  /** True when the command was never sent (the breaker was already open). */
  readonly notSent: boolean;
  constructor(reason: Error, notSent = false) {
    super(`redis unavailable: ${reason.message}`);
    this.reason = reason;
    this.notSent = notSent;
  }
}

interface Waiting {
  sentAt: number;
  reject: (err: Error) => void;
}

/** Redis answered (an error reply is still an answer: Redis is alive and reading). */
const isReply = (err: unknown): boolean => err instanceof Error && err.name === 'ReplyError';

export class RedisBreaker {
  private readonly windowMs: number;
  private readonly maxWaitMs: number;
  private readonly failuresToOpen: number;
  private readonly waiting = new Set<Waiting>(); // insertion order = send order
  private lastReplyAt = Number.NEGATIVE_INFINITY;
  private probeSentAt: number | undefined;
  private failures = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private recovery: NodeJS.Timeout | undefined;
  private opened = false;
  private probing = false;
  private stopped = false;

  constructor(private readonly opts: BreakerOptions) {
    if (!(opts.windowMs > 0)) throw new RangeError('windowMs must be > 0');
    this.windowMs = opts.windowMs;
    this.maxWaitMs = opts.maxWaitMs ?? Number.POSITIVE_INFINITY;
    this.failuresToOpen = opts.failuresToOpen ?? 3;
  }

  get isOpen(): boolean {
    return this.opened;
  }

  /**
   * Sends a command (unless open) and waits for its reply. Rejects with RedisDownError when the
   * breaker is or becomes open; with the command's own error otherwise. `abandoned` gets the
   * command's promise when the caller stops waiting for it (it may still run on Redis later).
   */
  run<T>(send: () => Promise<T>, abandoned?: (late: Promise<T>) => void): Promise<T> {
    if (this.opened) return Promise.reject(new RedisDownError(new Error('circuit open'), true));
    let cmd: Promise<T>;
    try {
      cmd = send();
    } catch (err) {
      cmd = Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const w: Waiting = {
        sentAt: performance.now(),
        reject: (err) => {
          if (!this.waiting.delete(w)) return;
          reject(err);
          abandoned?.(cmd);
        },
      };
      this.waiting.add(w);
      this.arm(this.windowMs / 2);
      cmd.then(
        (v) => {
          this.replied();
          this.failures = 0;
          if (this.waiting.delete(w)) resolve(v);
        },
        (err: unknown) => {
          const e = err instanceof Error ? err : new Error(String(err));
          if (!this.waiting.delete(w)) return;
          if (isReply(e)) {
            this.replied();
            this.failed(e);
          } else this.trip(e); // not an answer from Redis: the connection is gone
          reject(this.opened ? new RedisDownError(e) : e);
        },
      );
    });
  }

  /** The connection failed (client 'error'): open now. */
  trip(err: Error): void {
    if (this.opened || this.stopped) return;
    this.opened = true;
    this.failures = 0;
    this.probeSentAt = undefined;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    const down = new RedisDownError(err);
    for (const w of [...this.waiting]) w.reject(down);
    this.opts.onStateChange?.('open', err);
    this.scheduleRecovery(this.opts.probeIntervalMs);
  }

  /** The client (re)connected: probe at once rather than at the next interval. */
  reconnected(): void {
    if (this.opened) this.scheduleRecovery(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearTimeout(this.watchdog);
    if (this.recovery) clearTimeout(this.recovery);
  }

  private replied(): void {
    this.lastReplyAt = performance.now();
    this.probeSentAt = undefined;
  }

  private failed(err: Error): void {
    if (++this.failures >= this.failuresToOpen) this.trip(err);
  }

  private arm(ms: number): void {
    if (this.watchdog || this.stopped) return;
    this.watchdog = setTimeout(
      () => {
        // Read what already arrived before judging Redis: the check phase runs after the I/O poll.
        // Two turns, so one local hop in between (a sidecar proxy, a TLS tunnel) is read through too.
        setImmediate(() =>
          setImmediate(() => {
            this.watchdog = undefined;
            this.judge();
          }),
        );
      },
      Math.max(1, ms),
    );
    this.watchdog.unref();
  }

  private judge(): void {
    if (this.opened || this.stopped) return;
    const now = performance.now();
    for (const w of this.waiting) {
      if (now - w.sentAt < this.maxWaitMs) break; // oldest first
      const e = new Error(`no reply from redis within ${this.maxWaitMs} ms (others answered)`);
      w.reject(e);
      this.failed(e);
      if (this.opened) return;
    }
    const oldest = this.waiting.values().next().value;
    if (!oldest) return;
    const quietFor = now - Math.max(oldest.sentAt, this.lastReplyAt);
    const half = this.windowMs / 2;
    if (quietFor < half) return this.arm(half - quietFor);
    if (this.probeSentAt === undefined) {
      this.probeSentAt = now;
      this.opts.ping().then(
        () => this.replied(),
        (err: unknown) => (isReply(err) ? this.replied() : undefined),
      );
      return this.arm(half);
    }
    const probeFor = now - this.probeSentAt;
    if (quietFor >= this.windowMs && probeFor >= half)
      return this.trip(new Error(`no reply from redis within ${Math.round(this.windowMs)} ms`));
    this.arm(Math.max(this.windowMs - quietFor, half - probeFor));
  }

  private scheduleRecovery(ms: number): void {
    if (this.stopped || this.probing) return;
    if (this.recovery) clearTimeout(this.recovery);
    this.recovery = setTimeout(() => {
      this.recovery = undefined;
      // One recovery PING at a time and no deadline: however late its answer (a loaded host), it
      // proves Redis reads this connection again; a dead connection rejects it (then retry later).
      this.probing = true;
      this.opts.ping().then(
        () => {
          this.probing = false;
          if (!this.opened || this.stopped) return;
          this.opened = false;
          this.failures = 0;
          this.replied();
          this.opts.onStateChange?.('closed');
        },
        () => {
          this.probing = false;
          if (this.opened) this.scheduleRecovery(this.opts.probeIntervalMs);
        },
      );
    }, ms);
    this.recovery.unref();
  }
}
