// Assembles a running gateway from config: upstreams, relay, sessions, HTTP server; and stops it.
import type { ServerType } from '@hono/node-server';
import pino, { type Logger } from 'pino';
import type { Rate, RuntimeConfig } from './config/runtime.js';
import { Upstream, type UpstreamListener } from './upstream/upstream.js';
import { Relay } from './relay/relay.js';
import { SessionStore } from './mcp/session-store.js';
import { buildApp, mcpSteps } from './app.js';
import { VERSION } from './version.js';
import { PolicyStore } from './policy/store.js';
import type { Authenticator } from './auth/identity.js';
import { AuditRecorder } from './audit/step.js';
import { registerExportMetrics } from './audit/export/metrics.js';
import type { LimitStore } from './limits/store.js';
import { MemoryStore } from './limits/memory-store.js';
import { applyPeerMessage, type BusMessage, type SessionBus } from './mcp/session-bus.js';
import { SessionSealer } from './mcp/session-seal.js';
import { createTokenCounter, type TokenCounter } from './limits/token-counter.js';
import type { LimitsStepOptions } from './limits/step.js';
import { agentUsage, type AgentUsage } from './limits/usage.js';
import { GatewayMetrics } from './ops/metrics.js';
import { llmRoutes, type LlmRoutes } from './llm/routes.js';
import { liveProcesses } from './upstream/stdio-channel.js';
import { buildAuthenticators, resourceUrl } from './auth/build.js';
import type { PinStore } from './pins/store.js';
import { PinGuard } from './pins/guard.js';
import { ConnectionCap } from './mcp/connection-cap.js';
import { AcceptFailureLog, createGatewayServer, drainConnections, listenedAt, listenOn } from './gateway-server.js';
import { applyChangedSections, readinessOf, type Readiness } from './gateway-health.js';
import { openGatewayStores, type GatewayOptions } from './gateway-open.js';
import { ApprovalService } from './approvals/service.js';
import { MemoryApprovalStore } from './approvals/store.js';
import { openApprovalStore } from './approvals/open.js';
import { StateSealer, stateKeys } from './approvals/state.js';
import { redactorFor } from './audit/open.js';
import { Tracing } from './telemetry/tracing.js';
import { llmSpans } from './telemetry/llm.js';
import { Credentials } from './credentials/credentials.js';
import { OAuthServer } from './oauth/server.js';
import { oauthAuthenticator } from './oauth/authenticator.js';
import { oauthReload } from './oauth/reload.js';
import { clientAddressOf } from './http/client-address.js';
import { CidrSet } from './http/cidr.js';

export type { GatewayOptions } from './gateway-open.js';

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
  /** Human approval of tool calls (policy `approvals:` rules). */
  readonly approvals: ApprovalService;
  readonly approvalStates: StateSealer;
  /** OpenTelemetry traces; undefined when off (then no tracing code runs at all). */
  readonly tracing: Tracing | undefined;
  /** Upstream credentials per user (upstreams.<name>.auth): the token vault and its sources. */
  readonly credentials: Credentials;
  /** Tollgate's own OAuth authorization server (auth.oauth); undefined when off. */
  readonly oauth: OAuthServer | undefined;
  private server: ServerType | undefined;

  /** A gateway with its audit log open (the constructor alone records nowhere). */
  static async open(opts: GatewayOptions): Promise<Gateway> {
    const log = opts.logger ?? pino({ level: opts.config.log.level });
    let deliver: (m: BusMessage) => void = () => undefined;
    const { pinStore, audit, hooks, limitStore, sessionBus } = await openGatewayStores(opts.config, log, (m) =>
      deliver(m),
    );
    const gw = new Gateway({
      ...opts,
      logger: log,
      recorder: new AuditRecorder(audit.writer, opts.config.instanceId, audit),
      limitStore,
      sessionBus,
      pinStore,
      approvalStore: openApprovalStore(opts.config, log),
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
    this.acceptFailures = new AcceptFailureLog(this.log);
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
    this.credentials = new Credentials(opts.config, {
      log: this.log,
      baseUrl: () => this.publicBase(),
      policyGroups: (id) => this.policies.current().groupsOf(id),
    });
    this.upstreams = opts.config.upstreams.map(
      (cfg) =>
        new Upstream(cfg, {
          log: this.log,
          env: opts.env,
          clientInfo: { name: 'tollgate', version: VERSION },
          listener,
          sharedSessions: opts.config.sessions.shared,
          credentials: this.credentials.forUpstream(cfg.name),
        }),
    );
    // A revoked connection ends that user's own upstream session.
    this.credentials.revoked = (upstream, agent) =>
      this.upstreams.find((u) => u.name === upstream)?.releaseAgent(agent);
    this.policies = new PolicyStore({
      dir: opts.config.policies?.dir,
      watch: opts.config.policies?.watch ?? false,
      log: this.log,
      env: opts.env,
    });
    const oc = opts.config.auth.oauth;
    this.oauth =
      oc &&
      new OAuthServer({
        config: oc,
        baseUrl: () => this.config.server.publicUrl ?? this.listenUrl ?? `http://${srv.host}:${srv.port}`,
        resources: {
          mcp: () => this.resource(),
          servers: opts.config.upstreams.map((u) => u.name),
          llm: opts.config.llm !== undefined,
        },
        log: this.log,
        store: OAuthServer.openStore(oc, opts.config.limits.redis),
        addressOf: clientAddressOf(new CidrSet(opts.config.server.trustedProxies)),
      });
    this.authenticators = this.buildAuthenticators(opts.config);
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
    registerExportMetrics(this.metrics.registry, () => this.recorder.exporters);
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
    this.approvals = new ApprovalService({
      store: opts.approvalStore ?? new MemoryApprovalStore(),
      config: opts.config.approvals,
      recorder: this.recorder,
      redact: redactorFor(opts.config),
      describe: (server, native) => {
        const d = this.upstreams
          .find((u) => u.name === server)
          ?.catalog.tools.find((t) => t.name === native)?.description;
        return typeof d === 'string' ? d : undefined;
      },
      instance: opts.config.instanceId,
      baseUrl: () => this.config.server.publicUrl ?? this.listenUrl,
      registry: this.metrics.registry,
      log: this.log,
    });
    this.approvalStates = new StateSealer(stateKeys(opts.config.sessions.sealKeys));
    this.tracing = opts.config.telemetry && new Tracing(opts.config.telemetry, this.log, opts.config.instanceId);
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
          traced: this.tracing && llmSpans(this.tracing),
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
  readiness(): Readiness {
    return readinessOf(this.upstreams, this.config.limits, this.limitStore, this.draining);
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
    await this.credentials.start();
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
    const server = createGatewayServer(app.fetch, host, this.config.server);
    this.server = server;
    await listenOn(server, port, host, (err) => this.acceptFailures.failed(err));
    const { url, port: listenedPort } = listenedAt(server, host);
    // The JWT audience and the metadata's resource follow the address really listened on.
    this.listenUrl = url;
    this.authenticators.splice(0, this.authenticators.length, ...this.buildAuthenticators(this.config, url));
    return { url, port: listenedPort };
  }

  private readonly acceptFailures: AcceptFailureLog;

  /** Tollgate's own tokens first (an auth.jwt verifier would refuse them as another issuer's), then the configured ones. */
  private buildAuthenticators(config: RuntimeConfig, listenUrl?: string): Authenticator[] {
    const as = this.oauth;
    const own = as
      ? [
          oauthAuthenticator({
            keys: as.keys,
            grants: as.grants,
            subjectNow: (s) => as.subjectNow(s),
            issuer: () => as.issuer(),
            resources: as.resources,
            policies: () => this.policies.current(),
            agentPrefix: as.config.agentPrefix,
          }),
        ]
      : [];
    return [...own, ...buildAuthenticators(config, () => this.policies.current(), this.log, listenUrl)];
  }

  /**
   * Applies a re-read config file (SIGHUP) without a restart: agent credentials (API keys, JWT),
   * the log level and the policies. Sections that shape the running gateway (listen address,
   * upstreams, limits store, audit, admin) are reported as needing a restart, and keep their values.
   */
  applyConfig(next: RuntimeConfig): { applied: string[]; restartNeeded: string[] } {
    const { applied, restartNeeded } = applyChangedSections(this.config, next, {
      // In place: the authentication middleware reads this array on every request.
      auth: () =>
        this.authenticators.splice(0, this.authenticators.length, ...this.buildAuthenticators(next, this.listenUrl)),
      log: () => {
        this.log.level = next.log.level;
      },
    });
    if (applied.includes('auth')) {
      const oauth = oauthReload(this.config.auth.oauth, next.auth.oauth);
      if (oauth.kind === 'users' && this.oauth) this.oauth.setUsers(oauth.users);
      else if (oauth.kind !== 'unchanged') restartNeeded.push('auth.oauth');
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
    // Calls held for an approval would hold the drain: they are refused (void) first.
    await this.approvals.close();
    while (this.relay.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.relay.closeStateless();
    this.sessions.close();
    await drainConnections(server);
    await closed;
    await Promise.all(this.upstreams.map((u) => u.close()));
    await this.llm?.close();
    await this.pinStore?.close();
    await this.recorder.close();
    await this.limitStore.close();
    await this.sessionBus?.close();
    await this.tokenCounter?.close();
    await this.tracing?.close();
    await this.credentials.close();
    await this.oauth?.close();
  }

  /** Where the gateway listens (`http://host:port`), once it does. */
  private listenUrl: string | undefined;

  /** Where browsers reach this gateway: public_url, else the address it listens on. */
  publicBase(): string {
    return (
      this.config.server.publicUrl ??
      this.listenUrl ??
      `http://${this.config.server.host}:${this.config.server.port}`
    ).replace(/\/$/, '');
  }

  /** This gateway's resource URL: the JWT audience and the metadata's `resource` (see resourceUrl). */
  resource(): string {
    return resourceUrl(this.config, this.listenUrl);
  }

  /** The MCP-level steps' dependencies (see app.ts for their order). */
  limitsOptions(): LimitsStepOptions {
    const rates = new Map(this.config.upstreams.map((u) => [u.name, u.rates]));
    const none: readonly Rate[] = Object.freeze([]);
    return {
      store: this.limitStore,
      policies: () => this.policies.current(),
      // The same array each time: request plans are cached while their rates stay the same object.
      serverRates: (server) => rates.get(server) ?? none,
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
