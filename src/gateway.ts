// Assembles a running gateway from config: upstreams, relay, sessions, HTTP server; and stops it.
import { createServer } from 'node:http';
import { getRequestListener, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { RuntimeConfig } from './config/runtime.js';
import { Upstream, type UpstreamListener } from './upstream/upstream.js';
import { Relay } from './relay/relay.js';
import { SessionStore } from './mcp/session-store.js';
import { buildApp, mcpSteps } from './app.js';
import { VERSION } from './version.js';
import { PolicyStore } from './policy/store.js';
import type { Authenticator } from './auth/identity.js';
import { AuditRecorder } from './audit/step.js';
import { openConfiguredAuditWriter } from './audit/open.js';
import type { LimitStore } from './limits/store.js';
import { MemoryStore } from './limits/memory-store.js';
import { openLimitStore, type LimitStoreHooks } from './limits/open.js';
import { redisClient } from './limits/redis-client.js';
import { RedisSessionBus, applyPeerMessage, type BusMessage, type SessionBus } from './mcp/session-bus.js';
import { SessionSealer } from './mcp/session-seal.js';
import { createTokenCounter, type TokenCounter } from './limits/token-counter.js';
import type { LimitsStepOptions } from './limits/step.js';
import { agentUsage, type AgentUsage } from './limits/usage.js';
import { GatewayMetrics } from './ops/metrics.js';
import { llmRoutes, type LlmRoutes } from './llm/routes.js';
import { liveProcesses } from './upstream/stdio-channel.js';
import { SLOW_CLIENT_LIMITS, answerClientError, unparseableRequest } from './http/client-errors.js';
import { buildAuthenticators, resourceUrl } from './auth/build.js';
import type { PinStore } from './pins/store.js';
import { openPinStore } from './pins/open.js';
import { PinGuard } from './pins/guard.js';
import { ConnectionCap } from './mcp/connection-cap.js';

export interface GatewayOptions {
  config: RuntimeConfig;
  /** The audit recorder; `Gateway.open` makes one from the config. */
  recorder?: AuditRecorder;
  /** The limits store; `Gateway.open` makes one from the config (default: in memory). */
  limitStore?: LimitStore;
  /** Other gateway instances (sessions.shared); `Gateway.open` makes it from the config. */
  sessionBus?: SessionBus | undefined;
  /** The pin file; `Gateway.open` opens it when pinning is on (without it nothing is pinned). */
  pinStore?: PinStore;
  /** Environment for stdio children (only main reads process.env; it passes it here). */
  env: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
}

/** Open connections after closing the idle ones (a connection that finished its response is idle). */
function openConnections(server: ServerType): Promise<number> {
  (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
  return new Promise((resolve) => server.getConnections((_err, n) => resolve(n)));
}

export class Gateway {
  readonly config: RuntimeConfig;
  readonly log: Logger;
  readonly relay: Relay;
  readonly sessions: SessionStore;
  readonly upstreams: Upstream[];
  readonly policies: PolicyStore;
  readonly recorder: AuditRecorder;
  readonly limitStore: LimitStore;
  readonly metrics: GatewayMetrics;
  /** Tool-definition pinning; undefined when off (and in `tollgate check`, which must not pin). */
  readonly pins: PinGuard | undefined;
  /** The /v1 LLM API, when `llm:` is configured. */
  readonly llm: LlmRoutes | undefined;
  /** SSE connections open to agents, capped per agent and in total. */
  readonly sseStreams: ConnectionCap;
  private readonly tokenCounter: TokenCounter | undefined;
  private readonly sessionBus: SessionBus | undefined;
  private readonly pinStore: PinStore | undefined;
  readonly authenticators: Authenticator[];
  private server: ServerType | undefined;

  /** A gateway with its audit log open (the constructor alone records nowhere). */
  static async open(opts: GatewayOptions): Promise<Gateway> {
    const log = opts.logger ?? pino({ level: opts.config.log.level });
    // Pins first: with pins.store redis the start may wait for Redis and fail, and must then leave
    // nothing open (an open Redis client would keep a failed process alive instead of exiting).
    const p = opts.config.pins;
    const pinStore = p ? await openPinStore(p, opts.config.limits.redis, log) : undefined;
    const writer = await openConfiguredAuditWriter(opts.config, log).catch(async (err: unknown) => {
      await pinStore?.close();
      throw err;
    });
    const hooks: LimitStoreHooks = {};
    const limitStore = await openLimitStore(opts.config.limits, log, hooks);
    let deliver: (m: BusMessage) => void = () => undefined;
    const r = opts.config.limits.redis;
    const sessionBus = opts.config.sessions.shared
      ? new RedisSessionBus(redisClient(r), redisClient(r, { enableOfflineQueue: true }), r.prefix, log, (m) =>
          deliver(m),
        )
      : undefined;
    const gw = new Gateway({
      ...opts,
      logger: log,
      recorder: new AuditRecorder(writer, opts.config.instanceId),
      limitStore,
      sessionBus,
      pinStore,
    });
    deliver = (m) =>
      applyPeerMessage(m, gw.sessions, (session, answer) => {
        const view = gw.relay.view(session.viewKey);
        if (view) void gw.relay.handleResponse(gw.relay.scopeFor(session.identity, session, view), answer);
      });
    hooks.onError = (op) => gw.metrics.limitsErrors.inc({ op });
    return gw;
  }

  constructor(opts: GatewayOptions) {
    this.config = opts.config;
    this.log = opts.logger ?? pino({ level: opts.config.log.level });
    this.pinStore = opts.pinStore;
    const srv = opts.config.server;
    this.sseStreams = new ConnectionCap('SSE streams', srv.maxSseStreams, srv.maxSseStreamsPerAgent);
    const listener = {
      catalogChanged: (...a: Parameters<UpstreamListener['catalogChanged']>) => {
        // Judge the new tools (audit, pending changes) before agents are told to list them.
        if (a[1].includes('tools')) this.pins?.held(a[0]);
        this.relay.fanout.catalogChanged(...a);
      },
      serverMessage: (...a: Parameters<UpstreamListener['serverMessage']>) => this.relay.fanout.serverMessage(...a),
      reattached: (...a: Parameters<UpstreamListener['reattached']>) => this.relay.fanout.reattached(...a),
    };
    this.upstreams = opts.config.upstreams.map(
      (cfg) =>
        new Upstream(cfg, {
          log: this.log,
          env: opts.env,
          clientInfo: { name: 'tollgate', version: VERSION },
          listener,
          sharedSessions: opts.config.sessions.shared,
        }),
    );
    this.policies = new PolicyStore({
      dir: opts.config.policies?.dir,
      watch: opts.config.policies?.watch ?? false,
      log: this.log,
      env: opts.env,
    });
    this.authenticators = buildAuthenticators(opts.config, () => this.policies.current(), this.log);
    this.recorder = opts.recorder ?? new AuditRecorder(undefined, opts.config.instanceId);
    this.limitStore = opts.limitStore ?? new MemoryStore();
    const trt = opts.config.limits.toolResultTokens;
    this.tokenCounter = trt.enabled ? createTokenCounter(trt.encoding) : undefined;
    this.metrics = new GatewayMetrics({
      upstreams: () => this.upstreams,
      sessions: () => this.sessions.size,
      sseStreams: () => this.sseStreams.total,
      stdioProcesses: liveProcesses,
      limitsDegraded: () => (this.limitStore as { state?: string }).state === 'degraded',
    });
    this.recorder.onRecord((r) => this.metrics.observe(r));
    this.recorder.observeWrite = (seconds) => this.metrics.auditWrite.observe(seconds);
    this.pins =
      opts.pinStore &&
      new PinGuard({
        store: opts.pinStore,
        upstreams: this.upstreams,
        recorder: this.recorder,
        log: this.log,
        autoPinNew: opts.config.pins?.autoPinNew ?? true,
        canonical: (server, tool) => this.relay.canonical(server, 'tool', tool),
        toolsChanged: (u) => this.relay.fanout.catalogChanged(u, ['tools']),
      });
    this.relay = new Relay(opts.config, mcpSteps(this), this.log, this.upstreams, this.policies, this.recorder);
    const pins = this.pins;
    if (pins) this.relay.toolListed = (u, tool) => pins.listed(u, tool);
    this.relay.notificationDropped = (reason) => this.metrics.notificationsDropped.inc({ reason });
    this.llm = opts.config.llm
      ? llmRoutes({
          config: opts.config.llm,
          store: this.limitStore,
          policies: () => this.policies.current(),
          recorder: this.recorder,
          log: this.log,
          globalRates: opts.config.limits.global,
        })
      : undefined;
    this.policies.onChange((prev, next) => this.relay.fanout.policiesChanged(prev, next));
    const sc = opts.config.sessions;
    this.sessionBus = opts.sessionBus;
    this.sessions = new SessionStore({
      idleMs: opts.config.server.sessionIdleTimeoutMs,
      maxAgeMs: sc.maxAgeMs,
      replayEvents: opts.config.server.sseReplayEvents,
      sealer: sc.sealKeys.length
        ? new SessionSealer(
            sc.sealKeys.map((k) => Buffer.from(k, 'base64')),
            sc.maxAgeMs,
          )
        : SessionSealer.ephemeral(sc.maxAgeMs),
      bus: opts.sessionBus,
      cap: new ConnectionCap('sessions', srv.maxSessions, srv.maxSessionsPerAgent),
      onEnd: (s, everywhere) => {
        for (const u of this.upstreams) u.release(s.id, everywhere);
      },
    });
    this.relay.attachSessions(this.sessions);
  }

  /** Ready when at least one upstream is usable; the body says why not. */
  readiness(): {
    ready: boolean;
    reason?: string;
    upstreams: Record<string, { state: string; error?: string }>;
    limits: { store: string; state: string; failureMode?: string };
  } {
    const upstreams = Object.fromEntries(
      this.upstreams.map((u) => [
        u.name,
        u.lastError && u.state !== 'ready' ? { state: u.state, error: u.lastError } : { state: u.state },
      ]),
    );
    const cfg = this.config.limits;
    const state = (this.limitStore as { state?: string }).state ?? 'healthy';
    const limits =
      cfg.store === 'redis'
        ? { store: 'redis', state, failureMode: cfg.redis.failureMode }
        : { store: 'memory', state };
    if (this.draining) return { ready: false, reason: 'shutting down', upstreams, limits };
    // An unreachable Redis is fine while a fallback answers; with fail_closed every call is refused.
    if (state === 'degraded' && cfg.redis.failureMode === 'fail_closed')
      return { ready: false, reason: 'limits store unreachable (fail_closed)', upstreams, limits };
    // A gateway for LLM traffic only has no MCP upstream to wait for.
    const ready = this.upstreams.length === 0 || this.upstreams.some((u) => u.state === 'ready');
    return ready ? { ready, upstreams, limits } : { ready, reason: 'no upstream is ready', upstreams, limits };
  }

  /**
   * Loads the tokenizers LLM budgets and tool-result token limits count with (tiktoken: ~2 s,
   * synchronous), so no agent's first call pays for it. Called at start, before listening.
   */
  warmTokenizers(): void {
    const started = performance.now();
    const encodings = this.llm?.proxy.warmTokenizers() ?? [];
    this.tokenCounter?.warm();
    if (encodings.length > 0 || this.tokenCounter)
      this.log.info({ encodings, ms: Math.round(performance.now() - started) }, 'tokenizers loaded');
  }

  /** Connects upstreams (each at most its connect timeout; failures retry in the background). */
  async startUpstreams(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.start()));
  }

  /**
   * Waits for each upstream's current catalog: a server may announce list_changed while its first
   * list is being fetched (server-everything registers tools on `initialized`), which makes that
   * first answer stale. `tollgate check --connect` and the start banner read the catalogs.
   */
  async catalogsSettled(timeoutMs: number): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.catalogSettled(timeoutMs)));
  }

  async listen(port = this.config.server.port, host = this.config.server.host): Promise<{ url: string; port: number }> {
    const app = buildApp(this);
    await new Promise<void>((resolve, reject) => {
      // Our own http.Server (not `serve`): requests the adapter cannot turn into a Request (a Host
      // it cannot parse, a malformed path) still get a JSON-RPC answer through errorHandler.
      const listener = getRequestListener(app.fetch, { hostname: host, errorHandler: unparseableRequest });
      const server = createServer({ ...SLOW_CLIENT_LIMITS, requireHostHeader: false }, listener);
      this.server = server;
      server.once('error', reject);
      server.on('clientError', answerClientError);
      server.listen(port, host, () => {
        // Once listening, a server 'error' is a failed accept (EMFILE when descriptors run out):
        // the connection is lost, never the gateway (an unheard 'error' event would end the process).
        server.off('error', reject);
        server.on('error', (err) => this.acceptFailed(err));
        resolve();
      });
    });
    const addr = this.server?.address() as AddressInfo;
    const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    const url = `http://${shownHost}:${addr.port}`;
    // The JWT audience and the metadata's resource follow the address really listened on.
    this.listenUrl = url;
    this.authenticators.splice(
      0,
      this.authenticators.length,
      ...buildAuthenticators(this.config, () => this.policies.current(), this.log, url),
    );
    return { url, port: addr.port };
  }

  private acceptFailures = 0;
  private acceptWarnedAt = 0;

  /** Logs failed accepts at most every 10 s (under EMFILE they come by the thousand). */
  private acceptFailed(err: Error): void {
    this.acceptFailures++;
    const now = Date.now();
    if (now - this.acceptWarnedAt < 10_000) return;
    this.acceptWarnedAt = now;
    this.log.warn(
      { err: err.message, failures: this.acceptFailures },
      'cannot accept connections (out of file descriptors?); raise `ulimit -n` or cap connections in front',
    );
  }

  /**
   * Applies a re-read config file (SIGHUP) without a restart: agent credentials (API keys, JWT),
   * the log level and the policies. Sections that shape the running gateway (listen address,
   * upstreams, limits store, audit, admin) are reported as needing a restart, and keep their values.
   */
  applyConfig(next: RuntimeConfig): { applied: string[]; restartNeeded: string[] } {
    const prev = this.config;
    const changed = (Object.keys(next) as (keyof RuntimeConfig)[]).filter(
      (k) => JSON.stringify(next[k]) !== JSON.stringify(prev[k]),
    );
    const applied: string[] = [];
    const restartNeeded: string[] = [];
    for (const k of changed) {
      if (
        k === 'auth' &&
        next.auth.allowAnonymous === prev.auth.allowAnonymous &&
        JSON.stringify(next.auth.resource) === JSON.stringify(prev.auth.resource)
      ) {
        // In place: the authentication middleware reads this array on every request.
        this.authenticators.splice(
          0,
          this.authenticators.length,
          ...buildAuthenticators(next, () => this.policies.current(), this.log, this.listenUrl),
        );
        applied.push('auth');
      } else if (k === 'log') {
        this.log.level = next.log.level;
        applied.push('log');
      } else if (k !== 'instanceId') {
        restartNeeded.push(k);
      }
    }
    if (this.policies.reload('SIGHUP').ok) applied.push('policies');
    void this.pinStore?.reload('SIGHUP');
    return { applied, restartNeeded };
  }

  /** Set once shutdown begins: readiness fails so load balancers stop sending traffic. */
  private draining = false;

  /**
   * Graceful stop: refuse new connections, let calls in flight finish (up to `drainMs`), end
   * sessions (SSE streams close with a retry hint, so clients reconnect elsewhere), then close
   * upstreams (stdio children are terminated), the audit log and the limits store.
   */
  async close(drainMs = 0): Promise<void> {
    this.draining = true;
    this.policies.close();
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    const deadline = Date.now() + drainMs;
    while (this.relay.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.relay.closeStateless();
    this.sessions.close();
    // Streams just ended with a last frame (listen results, retry hints): let those connections
    // finish writing (bounded) before the rest are cut.
    const quietBy = Date.now() + 500;
    while (server && Date.now() < quietBy && (await openConnections(server)) > 0)
      await new Promise((r) => setTimeout(r, 10));
    (server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
    await closed;
    await Promise.all(this.upstreams.map((u) => u.close()));
    await this.llm?.close();
    await this.pinStore?.close();
    await this.recorder.close();
    await this.limitStore.close();
    await this.sessionBus?.close();
    await this.tokenCounter?.close();
  }

  /** Where the gateway listens (`http://host:port`), once it does. */
  private listenUrl: string | undefined;

  /** This gateway's resource URL: the JWT audience and the metadata's `resource` (see resourceUrl). */
  resource(): string {
    return resourceUrl(this.config, this.listenUrl);
  }

  /** The MCP-level steps' dependencies (see app.ts for their order). */
  limitsOptions(): LimitsStepOptions {
    const rates = new Map(this.config.upstreams.map((u) => [u.name, u.rates]));
    return {
      store: this.limitStore,
      policies: () => this.policies.current(),
      serverRates: (server) => rates.get(server) ?? [],
      global: this.config.limits.global,
      tokenCounter: this.tokenCounter,
      defaultResultEstimate: this.config.limits.toolResultTokens.defaultEstimate,
      concurrencyTtlMs: this.config.limits.concurrencyTtlMs,
    };
  }

  /** An agent's usage against each of its limits (admin API and page). */
  async usage(agentId: string): Promise<AgentUsage[]> {
    return agentUsage(this.limitStore, agentId, this.policies.current().limitsFor(agentId));
  }
}
