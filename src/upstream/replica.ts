// One replica of an upstream: the gateway's own session with it (reconnected with backoff), and its
// health as two signals: active checks (ping or a health URL) and the outcomes of real calls
// (consecutive failures eject it for a while, within the pool's ejection budget).
import { request } from 'undici';
import type { Logger } from 'pino';
import type { JsonRpcMessage } from '../mcp/jsonrpc.js';
import type { UpstreamConfig, UpstreamProtocol } from '../config/runtime.js';
import type { Channel } from './channel.js';
import { createChannel } from './create-channel.js';
import type { UpstreamCredentials } from './channel-auth.js';
import { UpstreamSession, type InitializeOutcome, type SessionHooks } from './session.js';

export type ReplicaState = 'connecting' | 'ready' | 'down';

export interface ReplicaHooks {
  /** Connected: resolves once the upstream has what it needs from this replica (e.g. the catalog). */
  ready(r: Replica): Promise<void>;
  lost(r: Replica, reason: string): void;
  unrelated(r: Replica, msg: JsonRpcMessage, session: UpstreamSession): void;
  /** Whether one more replica may be ejected without passing max_ejection_percent. */
  mayEject(r: Replica): boolean;
}

export interface ReplicaDeps {
  log: Logger;
  env: Readonly<Record<string, string | undefined>>;
  clientInfo: { name: string; version: string };
  /** Client capabilities of the gateway's own session. */
  capabilities: Record<string, unknown>;
  hooks: ReplicaHooks;
  sessionHooks: SessionHooks;
  /** Per-user credentials (upstreams.<name>.auth). */
  credentials?: UpstreamCredentials | undefined;
}

const MAX_RETRY_MS = 30_000;

export class Replica {
  state: ReplicaState = 'connecting';
  shared: UpstreamSession | undefined;
  init: InitializeOutcome | undefined;
  lastError: string | undefined;
  /** Agent sessions pinned to this replica (what least_sessions compares). */
  assigned = 0;
  /** Active checks say it is unhealthy. */
  failingChecks = false;
  ejectedUntil = 0;
  private ejections = 0;
  private callFailures = 0;
  private checkFails = 0;
  private checkPasses = 0;
  private retryDelay = 500;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A 2025 stdio server that died on the server/discover probe: later connects skip the probe. */
  private probeKills = false;
  private readonly log: Logger;

  constructor(
    readonly index: number,
    /** undefined for stdio: the replica is the command. */
    readonly url: string | undefined,
    readonly weight: number,
    private readonly cfg: UpstreamConfig,
    private readonly deps: ReplicaDeps,
  ) {
    this.log =
      url && cfg.transport === 'streamable_http' && 'replicas' in cfg && cfg.replicas.length > 1
        ? deps.log.child({ replica: url })
        : deps.log;
  }

  get key(): string {
    return this.url ?? this.cfg.name;
  }

  get ejected(): boolean {
    return this.ejectedUntil > Date.now();
  }

  /** Its session is up, whatever its health. */
  get connected(): boolean {
    return this.state === 'ready' && (this.shared?.isAlive ?? false);
  }

  /** May take new work: connected, passing checks, not ejected. */
  get usable(): boolean {
    return this.state === 'ready' && !this.failingChecks && !this.ejected && (this.shared?.isAlive ?? false);
  }

  /** The era the upstream answered in, for sessions opened next to the shared one (no second probe). */
  get protocol(): UpstreamProtocol {
    return this.detected ?? (this.probeKills ? '2025' : this.cfg.protocol);
  }
  private detected: '2025' | '2026' | undefined;

  /** A channel to this replica; `agentId` names whose own session it carries (per-user credentials). */
  newChannel(agentId?: string): Channel {
    const of = this.deps.credentials;
    return createChannel(this.cfg, this.deps.env, this.log, this.url, of && { of, agentId });
  }

  /** Connect now rather than at the next backoff step (a user just connected: the catalog may load). */
  retryNow(): void {
    if (this.stopped || this.state !== 'down') return;
    clearTimeout(this.retryTimer);
    this.retryDelay = 500;
    void this.connect();
  }

  async start(): Promise<void> {
    const hc = this.cfg.balance.healthCheck;
    if (hc.enabled) {
      this.healthTimer = setInterval(() => void this.check(), hc.intervalMs);
      this.healthTimer.unref();
    }
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.state = 'connecting';
    const session: UpstreamSession = new UpstreamSession(
      this.newChannel(),
      {
        unrelated: (msg) => this.deps.hooks.unrelated(this, msg, session),
        closed: (reason) => this.onClosed(session, reason),
      },
      this.deps.sessionHooks,
    );
    this.shared = session;
    try {
      this.init = await session.start({
        clientInfo: this.deps.clientInfo,
        capabilities: this.deps.capabilities,
        timeoutMs: this.cfg.timeouts.connectMs,
        protocol: this.probeKills ? '2025' : this.cfg.protocol,
        watchLists: true,
      });
      if (this.shared !== session) return;
      this.detected = session.isModern ? '2026' : '2025';
      this.state = 'ready';
      this.retryDelay = 500;
      this.lastError = undefined;
      await this.deps.hooks.ready(this);
    } catch (err) {
      this.lastError = (err as Error).message;
      if (session.probeLost && this.cfg.protocol === 'auto' && this.cfg.transport === 'stdio') this.probeKills = true;
      this.log.warn({ err: this.lastError }, 'upstream connect failed');
      if (this.shared === session) {
        this.shared = undefined;
        await session.close().catch(() => undefined);
        this.scheduleRetry();
      }
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.state = 'down';
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.retryDelay);
    this.retryTimer.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
  }

  private onClosed(session: UpstreamSession, reason: string): void {
    if (this.shared !== session || this.stopped) return;
    this.log.warn({ reason }, 'upstream connection lost; reconnecting');
    this.shared = undefined;
    this.lastError = reason;
    const wasReady = this.state === 'ready';
    void session.close().catch(() => undefined);
    this.scheduleRetry();
    if (wasReady) this.deps.hooks.lost(this, reason);
  }

  /** Outcome of a real call: an answer (even a JSON-RPC error) is success; no answer is failure. */
  callSucceeded(): void {
    this.callFailures = 0;
    if (!this.ejected && this.ejectedUntil !== 0) {
      this.ejectedUntil = 0;
      this.ejections = 0;
    }
  }

  callFailed(): void {
    const o = this.cfg.balance.outlier;
    if (++this.callFailures < o.consecutiveFailures || this.ejected || !this.deps.hooks.mayEject(this)) return;
    const ms = o.ejectionMs * Math.min(2 ** this.ejections, 10);
    this.ejections++;
    this.callFailures = 0;
    this.ejectedUntil = Date.now() + ms;
    this.log.warn({ ms }, 'replica ejected after consecutive failures');
  }

  /** A call could not even connect: take the replica out now rather than after N failures. */
  unreachable(): void {
    if (this.ejected || !this.deps.hooks.mayEject(this)) return;
    this.ejectedUntil = Date.now() + this.cfg.balance.outlier.ejectionMs * Math.min(2 ** this.ejections++, 10);
    this.callFailures = 0;
    this.log.warn('replica unreachable: ejected');
  }

  /** One active check; thresholds turn results into the failingChecks flag. */
  async check(): Promise<void> {
    if (this.stopped || this.state !== 'ready') return;
    const ok = await this.probe();
    const hc = this.cfg.balance.healthCheck;
    if (ok) {
      this.checkFails = 0;
      if (this.failingChecks && ++this.checkPasses >= hc.healthyThreshold) {
        this.failingChecks = false;
        this.log.info('replica passes health checks again');
      }
    } else {
      this.checkPasses = 0;
      if (!this.failingChecks && ++this.checkFails >= hc.unhealthyThreshold) {
        this.failingChecks = true;
        this.log.warn('replica fails health checks');
      }
    }
  }

  private async probe(): Promise<boolean> {
    const hc = this.cfg.balance.healthCheck;
    try {
      if (hc.path && this.url) {
        const res = await request(new URL(hc.path, this.url), {
          method: 'GET',
          headersTimeout: hc.timeoutMs,
          bodyTimeout: hc.timeoutMs,
        });
        await res.body.dump();
        return res.statusCode >= 200 && res.statusCode < 300;
      }
      const s = this.shared;
      if (!s?.isAlive) return false;
      // 2026 has no ping: server/discover is its cheapest request.
      const res = await s.request(s.isModern ? 'server/discover' : 'ping', undefined, {
        timeoutMs: hc.timeoutMs,
        maxTotalMs: hc.timeoutMs,
      });
      return !('error' in res);
    } catch {
      return false;
    }
  }

  describe(): {
    url: string;
    state: ReplicaState;
    healthy: boolean;
    ejected: boolean;
    sessions: number;
    error?: string;
  } {
    return {
      url: this.key,
      state: this.state,
      healthy: !this.failingChecks,
      ejected: this.ejected,
      sessions: this.assigned,
      ...(this.lastError && this.state !== 'ready' ? { error: this.lastError } : {}),
    };
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.healthTimer);
    const s = this.shared;
    this.shared = undefined;
    await s?.close();
  }
}
