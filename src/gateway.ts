// Assembles a running gateway from config: upstreams, relay, sessions, HTTP server; and stops it.
import type { ServerType } from '@hono/node-server';
import pino, { type Logger } from 'pino';
import type { RuntimeConfig } from './config/runtime.js';
import type { Upstream } from './upstream/upstream.js';
import { Relay } from './relay/relay.js';
import type { SessionStore } from './mcp/session-store.js';
import { buildApp, mcpSteps } from './app.js';
import { fastLanes } from './app-lanes.js';
import { PolicyStore } from './policy/store.js';
import type { Authenticator } from './auth/identity.js';
import { AuditRecorder } from './audit/step.js';
import type { LimitStore } from './limits/store.js';
import { MemoryStore } from './limits/memory-store.js';
import type { SessionBus } from './mcp/session-bus.js';
import type { TokenCounter } from './limits/token-counter.js';
import type { LimitsStepOptions } from './limits/step.js';
import type { AgentUsage } from './limits/usage.js';
import type { GatewayMetrics } from './ops/metrics.js';
import type { LlmRoutes } from './llm/routes.js';
import { resourceUrl } from './auth/build.js';
import type { PinStore } from './pins/store.js';
import type { PinGuard } from './pins/guard.js';
import { ConnectionCap } from './mcp/connection-cap.js';
import { AcceptFailureLog, createGatewayServer, listenedAt, listenOn } from './gateway-server.js';
import { drainGateway } from './gateway-drain.js';
import { readinessOf, type Readiness } from './gateway-health.js';
import type { GatewayOptions } from './gateway-open.js';
import { openGateway } from './gateway-start.js';
import { reloadGateway } from './gateway-reload.js';
import type { ApprovalService } from './approvals/service.js';
import { StateSealer, stateKeys } from './approvals/state.js';
import { Tracing } from './telemetry/tracing.js';
import type { Credentials } from './credentials/credentials.js';
import { credentialedUpstreams } from './gateway-credentials.js';
import type { OAuthServer } from './oauth/server.js';
import { gatewayAuthenticators, openOAuthServer } from './gateway-auth.js';
import { upstreamListener } from './gateway-upstreams.js';
import { gatewayApprovalService } from './gateway-approvals.js';
import { gatewaySessionStore, streamPressure } from './gateway-sessions.js';
import { limitsStepOptions, toolResultTokenCounter, usageOf, loadTokenizers } from './gateway-limits.js';
import { gatewayMetrics } from './gateway-metrics.js';
import { gatewayPinGuard } from './gateway-pins.js';
import { gatewayLlmRoutes } from './gateway-llm.js';

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
  private readonly acceptFailures: AcceptFailureLog;
  /** Set once shutdown begins: readiness fails so load balancers stop sending traffic. */
  private draining = false;
  /** Where the gateway listens (`http://host:port`), once it does. */
  private listenUrl: string | undefined;
  /**
   * The config as running: at start, then with each reload's sections applied in place. A reload is
   * compared with this, not with `config` (the file at start): else a change undone by a later
   * reload (a user or key added, then removed again) would look unchanged and stay in force.
   */
  private appliedConfig: RuntimeConfig;

  /** A gateway with its audit log open (the constructor alone records nowhere); see gateway-start.ts. */
  static open(opts: GatewayOptions): Promise<Gateway> {
    return openGateway(opts, (o) => new Gateway(o));
  }

  constructor(opts: GatewayOptions) {
    this.config = opts.config;
    this.appliedConfig = opts.config;
    this.log = opts.logger ?? pino({ level: opts.config.log.level });
    this.acceptFailures = new AcceptFailureLog(this.log);
    this.pinStore = opts.pinStore;
    const srv = opts.config.server;
    this.sseStreams = new ConnectionCap('SSE streams', srv.maxSseStreams, srv.maxSseStreamsPerAgent);
    ({ credentials: this.credentials, upstreams: this.upstreams } = credentialedUpstreams(opts.config, {
      log: this.log,
      env: opts.env,
      listener: upstreamListener(
        () => this.pins,
        () => this.relay.fanout,
      ),
      baseUrl: () => this.publicBase(),
      policyGroups: (id) => this.policies.current().groupsOf(id),
      agentSessions: () => this.sessions.all(),
    }));
    this.policies = new PolicyStore({
      dir: opts.config.policies?.dir,
      watch: opts.config.policies?.watch ?? false,
      log: this.log,
      env: opts.env,
    });
    this.oauth = openOAuthServer(opts.config, {
      baseUrl: () => this.config.server.publicUrl ?? this.listenUrl ?? `http://${srv.host}:${srv.port}`,
      resource: () => this.resource(),
      log: this.log,
    });
    this.authenticators = this.buildAuthenticators(opts.config);
    this.recorder = opts.recorder ?? new AuditRecorder(undefined, opts.config.instanceId);
    this.limitStore = opts.limitStore ?? new MemoryStore();
    this.tokenCounter = toolResultTokenCounter(opts.config);
    this.metrics = gatewayMetrics(this.recorder, {
      upstreams: () => this.upstreams,
      sessions: () => this.sessions.size,
      sseStreams: () => this.sseStreams.total,
      limitsDegraded: () => (this.limitStore as { state?: string }).state === 'degraded',
    });
    this.pins = gatewayPinGuard(opts.config, opts.pinStore, {
      upstreams: this.upstreams,
      recorder: this.recorder,
      log: this.log,
      relay: () => this.relay,
    });
    this.approvals = gatewayApprovalService(opts.config, {
      store: opts.approvalStore,
      recorder: this.recorder,
      upstreams: this.upstreams,
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
    this.llm = gatewayLlmRoutes(opts.config, {
      store: this.limitStore,
      policies: () => this.policies.current(),
      recorder: this.recorder,
      log: this.log,
      tracing: this.tracing,
    });
    this.policies.onChange((prev, next) => this.relay.fanout.policiesChanged(prev, next));
    this.sessionBus = opts.sessionBus;
    this.relay.streamBounds.pressure = streamPressure(this.metrics, this.log);
    this.sessions = gatewaySessionStore(
      opts.config,
      opts.sessionBus,
      (s, everywhere) => {
        for (const u of this.upstreams) u.release(s.id, everywhere);
      },
      this.relay.streamBounds,
    );
    this.relay.attachSessions(this.sessions);
  }

  /** Ready when at least one upstream is usable; the body says why not. */
  readiness(): Readiness {
    return readinessOf(this.upstreams, this.config.limits, this.limitStore, this.draining);
  }

  /** Loads the tokenizers before listening, so no agent's first call pays for it (see loadTokenizers). */
  warmTokenizers(): void {
    loadTokenizers(this.llm, this.tokenCounter, this.log);
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
    const server = createGatewayServer(app.fetch, host, this.config.server, fastLanes(this));
    this.server = server;
    await listenOn(server, port, host, (err) => this.acceptFailures.failed(err));
    const { url, port: listenedPort } = listenedAt(server, host);
    // The JWT audience and the metadata's resource follow the address really listened on.
    this.listenUrl = url;
    this.authenticators.splice(0, this.authenticators.length, ...this.buildAuthenticators(this.config, url));
    return { url, port: listenedPort };
  }

  /** Tollgate's own tokens first, then the configured ones (see gatewayAuthenticators). */
  private buildAuthenticators(config: RuntimeConfig, listenUrl?: string): Authenticator[] {
    return gatewayAuthenticators(config, this.oauth, () => this.policies.current(), this.log, listenUrl);
  }

  /**
   * Applies a re-read config file (SIGHUP) without a restart: agent credentials (API keys, JWT),
   * the log level and the policies. Sections that shape the running gateway (listen address,
   * upstreams, limits store, audit, admin) are reported as needing a restart, and keep their values.
   */
  applyConfig(next: RuntimeConfig): { applied: string[]; restartNeeded: string[] } {
    const { running, ...result } = reloadGateway(this.appliedConfig, next, {
      // In place: the authentication middleware reads this array on every request.
      auth: (config) =>
        this.authenticators.splice(0, this.authenticators.length, ...this.buildAuthenticators(config, this.listenUrl)),
      oauth: this.oauth,
      log: this.log,
      policies: this.policies,
      pinStore: this.pinStore,
    });
    this.appliedConfig = running;
    return result;
  }

  /**
   * Graceful stop: refuse new connections, let calls in flight finish (up to `drainMs`), end
   * sessions (SSE streams close with a retry hint, so clients reconnect elsewhere), then close
   * upstreams (stdio children are terminated), the audit log and the limits store.
   */
  async close(drainMs = 0): Promise<void> {
    this.draining = true;
    this.policies.close();
    await drainGateway(this.server, this, drainMs);
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
    return limitsStepOptions(this.config, this.limitStore, () => this.policies.current(), this.tokenCounter);
  }

  /** An agent's usage against each of its limits (admin API and page). */
  async usage(agentId: string): Promise<AgentUsage[]> {
    return usageOf(this.limitStore, this.policies.current(), agentId);
  }
}
