// One configured upstream MCP server: its replicas (each with the gateway's own session, reconnected
// with backoff and health-checked), its catalog, and which upstream session serves which agent
// (isolation and balancing: see README "Replicas and isolation").
import type { Logger } from 'pino';
import type { JsonRpcMessage } from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { UpstreamConfig } from '../config/runtime.js';
import type { UpstreamSession, InitializeOutcome, SessionHooks } from './session.js';
import { isModernVersion } from '../mcp/era.js';
import { ALL_KINDS, LIST_CHANGED, type Catalog, type CatalogKind } from './catalog.js';
import { ToolSchemaIndex } from './tool-schema-index.js';
import { CatalogKeeper } from './catalog-keeper.js';
import { Replica, type ReplicaHooks } from './replica.js';
import { BalanceState, pick } from './balance.js';
import { SessionPool } from './session-pool.js';
import { OwnSessions } from './own-sessions.js';
import { SubscriptionHolds } from './subscription-holds.js';
import type { Placement, ServerMessageOrigin, UpstreamState } from './upstream-types.js';
import { SharedAffinity } from './shared-affinity.js';
import type { UpstreamCredentials } from './channel-auth.js';

export type { Placement, ServerMessageOrigin, UpstreamState } from './upstream-types.js';

export interface UpstreamListener {
  catalogChanged(upstream: Upstream, kinds: readonly CatalogKind[]): void;
  /** A server message tied to no request: the relay decides who may see it. */
  serverMessage(upstream: Upstream, msg: JsonRpcMessage, origin: ServerMessageOrigin): void;
  /** An agent session now talks to a new upstream session (its replica failed): restore its state. */
  reattached(upstream: Upstream, agentSessionId: string, session: UpstreamSession): Promise<void>;
}

export interface UpstreamDeps {
  log: Logger;
  env: Readonly<Record<string, string | undefined>>;
  clientInfo: { name: string; version: string };
  listener: UpstreamListener;
  /** Agent sessions are shared by several gateway instances (sessions.shared). */
  sharedSessions?: boolean;
  /** Per-user credentials (upstreams.<name>.auth; see src/credentials/). */
  credentials?: UpstreamCredentials | undefined;
}

/** What a shared upstream session may ask of agents: only what we can attribute to one request. */
const SHARED_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} } };

export class Upstream {
  private readonly catalogs: CatalogKeeper;
  readonly replicas: readonly Replica[];
  /** The replica the catalog was fetched from (replicas are assumed to serve the same server). */
  private source: Replica | undefined;
  /** isolation shared: the replica each agent session is pinned to. */
  private readonly affinity: SharedAffinity;
  private readonly pool: SessionPool;
  private readonly own: OwnSessions;
  private readonly balance = new BalanceState();
  private readonly replicaOfOwn = new WeakMap<UpstreamSession, Replica>();
  /** Resource subscriptions on this upstream's sessions, by holder (agent session, listen hub). */
  readonly holds = new SubscriptionHolds();
  private readonly log: Logger;

  constructor(
    readonly cfg: UpstreamConfig,
    private readonly deps: UpstreamDeps,
  ) {
    this.log = deps.log.child({ upstream: cfg.name });
    this.affinity = new SharedAffinity({
      replicas: () => this.replicas,
      pick: (key) => this.pickReplica(key),
      unavailable: () =>
        new GatewayError(
          'upstream_unavailable',
          `upstream ${this.name} is unavailable${this.lastError ? `: ${this.lastError}` : ''}`,
        ),
      reattached: (agentSessionId, session) => this.deps.listener.reattached(this, agentSessionId, session),
    });
    const hooks: ReplicaHooks = {
      ready: (r) => this.onReplicaReady(r),
      lost: (r) => this.onReplicaLost(r),
      unrelated: (r, msg, session) =>
        this.onUnrelated(msg, { session, agentSessionId: undefined, agentId: undefined }, r),
      mayEject: () =>
        this.replicas.filter((x) => x.ejected).length + 1 <=
        Math.floor((this.replicas.length * cfg.balance.outlier.maxEjectionPercent) / 100),
    };
    const urls = cfg.transport === 'stdio' ? [{ url: undefined, weight: 1 }] : cfg.replicas;
    this.catalogs = new CatalogKeeper({
      requestMs: cfg.timeouts.requestMs,
      maxEntries: cfg.maxCatalogEntries,
      maxBytes: cfg.maxCatalogBytes,
      log: this.log,
      source: () => this.source?.shared,
      changed: (kinds) => this.deps.listener.catalogChanged(this, kinds),
      // Listed with a user's own token: that user's resources are not everyone's list.
      withheld: deps.credentials?.catalogAsUser ? ['resources'] : [],
    });
    const capabilities = cfg.sharedRoots ? { ...SHARED_CLIENT_CAPABILITIES, roots: {} } : SHARED_CLIENT_CAPABILITIES;
    this.replicas = urls.map(
      (u, i) =>
        new Replica(i, u.url, u.weight, cfg, {
          log: this.log,
          env: deps.env,
          clientInfo: deps.clientInfo,
          capabilities,
          hooks,
          sessionHooks: this.sessionHooks,
          credentials: deps.credentials,
        }),
    );
    deps.credentials?.onConnected?.(() => {
      for (const r of this.replicas) r.retryNow();
    });
    this.pool = new SessionPool(
      cfg.name,
      cfg.maxSessions,
      cfg.idleTimeoutMs,
      deps.sharedSessions,
      deps.credentials !== undefined,
    );
    this.own = new OwnSessions({
      upstream: cfg.name,
      clientInfo: deps.clientInfo,
      connectMs: cfg.timeouts.connectMs,
      sessionHooks: this.sessionHooks,
      init: () => this.init,
      unrelated: (msg, origin) => this.onUnrelated(msg, origin, undefined),
      closed: (session, origin) => {
        const key = this.ownKey(origin.agentSessionId, origin.agentId);
        if (key !== undefined) this.pool.forget(key, session);
      },
      opened: (session, r) => this.replicaOfOwn.set(session, r),
    });
  }

  /** Per-user credentials: the shared session carries no agent's own (see listen.ts). */
  get perUserCredentials(): boolean {
    return this.deps.credentials !== undefined;
  }

  get catalog(): Catalog {
    return this.catalogs.catalog;
  }

  /** Lists cut at max_catalog_entries or max_catalog_bytes (health: /admin/upstreams, tollgate_upstream_catalog_truncated). */
  get catalogTruncated(): readonly CatalogKind[] {
    return [...this.catalogs.truncated];
  }

  /** Waits (at most `timeoutMs`) until catalog fetches in flight are done: the catalog is current. */
  catalogSettled(timeoutMs: number): Promise<void> {
    return this.catalogs.settled(timeoutMs);
  }

  private refresh(kinds: readonly CatalogKind[]): Promise<void> {
    return this.catalogs.refresh(kinds);
  }

  /** Fetches these lists again on demand (an agent named something they lack); agents hear of a change. */
  async refreshCatalog(kinds: readonly CatalogKind[]): Promise<void> {
    const before = kinds.map((k) => this.catalog[k]);
    await this.refresh(kinds);
    if (kinds.some((k, i) => JSON.stringify(before[i]) !== JSON.stringify(this.catalog[k])))
      this.deps.listener.catalogChanged(this, kinds);
  }

  get name(): string {
    return this.cfg.name;
  }

  get state(): UpstreamState {
    if (!this.cfg.enabled) return 'disabled';
    if (this.replicas.some((r) => r.state === 'ready')) return 'ready';
    return this.replicas.some((r) => r.state === 'connecting') ? 'connecting' : 'down';
  }

  get init(): InitializeOutcome | undefined {
    return this.source?.init ?? this.replicas.find((r) => r.init)?.init;
  }

  /** Speaks 2026-07-28: stateless, input_required instead of server-to-client requests. */
  get modern(): boolean {
    return isModernVersion(this.init?.protocolVersion);
  }

  /** Tool schemas by name, rebuilt when the tool list changes (Mcp-Param-* headers need them per call). */
  private readonly toolIndex = new ToolSchemaIndex(() => this.catalog.tools);
  private readonly sessionHooks: SessionHooks = { toolSchema: (name) => this.toolIndex.schema(name) };

  get lastError(): string | undefined {
    return this.replicas.find((r) => r.lastError)?.lastError;
  }

  /** Upstream sessions opened for single agents or agent sessions (per_agent, per_session). */
  get ownSessions(): number {
    return this.pool.size;
  }

  /** Connects every replica once; failures keep retrying in the background. Never rejects. */
  async start(): Promise<void> {
    if (!this.cfg.enabled) return;
    await Promise.all(this.replicas.map((r) => r.start()));
  }

  private async onReplicaReady(r: Replica): Promise<void> {
    if (this.source?.state === 'ready' && this.source !== r) return;
    this.source = r;
    await this.refresh(ALL_KINDS);
    this.log.info({ protocolVersion: r.init?.protocolVersion, tools: this.catalog.tools.length }, 'upstream ready');
    this.deps.listener.catalogChanged(this, ALL_KINDS);
  }

  private onReplicaLost(r: Replica): void {
    if (r !== this.source) return;
    const next = this.replicas.find((x) => x.state === 'ready');
    if (next) {
      void this.onReplicaReady(next); // same server elsewhere: refresh, keep serving
      return;
    }
    this.source = undefined;
    this.catalogs.clear();
    this.deps.listener.catalogChanged(this, ALL_KINDS);
  }

  private onUnrelated(msg: JsonRpcMessage, origin: ServerMessageOrigin, replica: Replica | undefined): void {
    if (!('method' in msg)) return;
    if (msg.method === 'ping' && 'id' in msg) {
      origin.session.respond({ jsonrpc: '2.0', id: msg.id, result: {} });
      return;
    }
    const kinds = LIST_CHANGED.get(msg.method);
    if (kinds) {
      // Every replica announces the same change: the catalog's own replica speaks for all.
      if (replica && replica !== this.source) return;
      const fetching = this.refresh(kinds);
      // Announcements that share one fetch are told to agents once.
      if (this.announced.has(fetching)) return;
      this.announced.add(fetching);
      fetching.then(
        () => this.deps.listener.catalogChanged(this, kinds),
        (err: Error) => this.log.warn({ err: err.message }, 'catalog refresh failed'),
      );
      return;
    }
    // A catalog session carrying the first connected user's token is that user's account: what it
    // says of it (log lines, resource updates) is nobody else's. Its requests are still refused.
    if (origin.agentId === undefined && this.deps.credentials?.catalogAsUser && !('id' in msg)) return;
    this.deps.listener.serverMessage(this, msg, origin);
  }

  /** Catalog fetches whose end agents will hear of (see onUnrelated). */
  private readonly announced = new WeakSet<Promise<void>>();

  private pickReplica(key: string): Replica | undefined {
    return pick(this.replicas, this.cfg.balance.strategy, key, this.balance);
  }

  /**
   * The key of the upstream session of its own that serves this agent (session), or undefined for
   * the shared one. A request without an agent session (2026 stateless) to a `per_session` upstream
   * gets one per agent: the shared session is the catalog's, used by every stateless agent at once
   * (one agent's server-side state, another's to read), and with per-user credentials it carries the
   * catalog's credential (the operator's, or the first connected user's token), never a caller's.
   * The NUL keeps it apart from every agent session id.
   */
  private ownKey(agentSessionId: string | undefined, agentId: string): string | undefined {
    if (this.cfg.isolation === 'per_agent') return agentId;
    if (this.cfg.isolation !== 'per_session') return undefined;
    return agentSessionId ?? `\u0000agent:${agentId}`;
  }

  /**
   * The upstream session that serves an agent. `shared`: the gateway's session with the replica the
   * agent session is pinned to (re-pinned when that replica stops being usable). `per_agent` /
   * `per_session`: one made on first use with the agent's own capabilities, so roots, logging level
   * and subscriptions stay the agent's. A shared session already pinned is returned as it is, not in
   * a promise: that is every call after the first (a promise per call was measured).
   */
  sessionFor(
    agentSessionId: string | undefined,
    agentCapabilities: Record<string, unknown>,
    agentId: string,
    placement?: Placement,
  ): UpstreamSession | Promise<UpstreamSession> {
    if (!this.cfg.enabled)
      return Promise.reject(new GatewayError('upstream_unavailable', `upstream ${this.name} is disabled`));
    const own = this.ownKey(agentSessionId, agentId);
    if (own === undefined) return this.affinity.sessionFor(agentSessionId, agentId, placement);
    return this.ownSessionFor(own, agentSessionId, agentCapabilities, agentId, placement);
  }

  private async ownSessionFor(
    own: NonNullable<ReturnType<Upstream['ownKey']>>,
    agentSessionId: string | undefined,
    agentCapabilities: Record<string, unknown>,
    agentId: string,
    placement: Placement | undefined,
  ): Promise<UpstreamSession> {
    const placed = placement && this.replicas[placement[0]];
    const { session, reopened } = await this.pool.acquire(
      own,
      () => (placed?.usable ? placed : this.pickReplica(agentId)),
      (r) => {
        const origin = { agentSessionId: this.cfg.isolation === 'per_session' ? agentSessionId : undefined, agentId };
        return r === placed && placement?.[1]
          ? this.own.claim(r, placement[1], origin)
          : this.own.open(r, origin, agentCapabilities);
      },
    );
    // Its subscriptions and log level are back before its call goes out.
    if (reopened && agentSessionId) await this.deps.listener.reattached(this, agentSessionId, session);
    return session;
  }

  /**
   * Where a new agent session will go, for its sealed id (sessions shared across instances): the
   * replica, and for per_session Streamable HTTP its upstream session, opened now so that every
   * instance uses that one session.
   */
  async place(agentId: string, caps: Record<string, unknown>): Promise<Placement | undefined> {
    if (!this.cfg.enabled) return undefined;
    const r = this.pickReplica(agentId);
    if (!r) return undefined;
    if (this.cfg.isolation !== 'per_session' || this.cfg.transport !== 'streamable_http') return [r.index];
    const id = await this.own.prepare(r, agentId, caps);
    return id ? [r.index, id] : [r.index];
  }

  /** The replica an upstream session talks to. */
  replicaOf(session: UpstreamSession): Replica | undefined {
    return this.replicaOfOwn.get(session) ?? this.replicas.find((x) => x.shared === session);
  }

  /** Passive health: whether a forwarded call got an answer, or could not even be sent. */
  report(session: UpstreamSession, outcome: 'answered' | 'failed' | 'unreachable'): void {
    const r = this.replicaOf(session);
    if (outcome === 'answered') r?.callSucceeded();
    else if (outcome === 'failed') r?.callFailed();
    else r?.unreachable();
  }

  /**
   * The agent session ended here: unpin it and let its own upstream session go; `everywhere` (the
   * agent's DELETE) ends that upstream session too.
   */
  release(agentSessionId: string, everywhere = true): void {
    this.holds.endHolder(agentSessionId, this.cfg.timeouts.requestMs);
    this.affinity.unpin(agentSessionId);
    if (this.cfg.isolation === 'per_session') this.pool.release(agentSessionId, everywhere);
  }

  /** The agent's upstream session if one is open (for notifications, which must not open one); without an agent, the shared one. */
  async liveSessionFor(agentSessionId: string | undefined, agentId?: string): Promise<UpstreamSession | undefined> {
    if (this.cfg.isolation === 'per_session' && agentSessionId) return this.pool.live(agentSessionId);
    if (this.cfg.isolation === 'per_agent' && agentId !== undefined) return this.pool.live(agentId);
    const r = (agentSessionId && this.affinity.pinned(agentSessionId)) || this.source;
    return r?.shared?.isAlive ? r.shared : undefined;
  }

  /** An agent's credentials went away (revoked): its own upstream session ends with them. */
  releaseAgent(agentId: string): void {
    const key = this.ownKey(undefined, agentId);
    if (key !== undefined) this.pool.release(key);
  }

  async close(): Promise<void> {
    this.own.close();
    this.catalogs.close();
    await Promise.all([this.pool.close(), ...this.replicas.map((r) => r.close())]);
  }
}
