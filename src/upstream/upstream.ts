// One configured upstream MCP server: its connection lifecycle (connect, reconnect with backoff),
// its catalog, and which upstream session serves which agent session (see isolation in README).
import type { Logger } from 'pino';
import type { JsonRpcMessage } from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { UpstreamConfig } from '../config/runtime.js';
import { UpstreamSession, type InitializeOutcome } from './session.js';
import { CAPABILITY_OF, emptyCatalog, fetchList, type Catalog, type CatalogKind } from './catalog.js';
import { createChannel } from './create-channel.js';

export type UpstreamState = 'connecting' | 'ready' | 'down' | 'disabled';

export interface ServerMessageOrigin {
  session: UpstreamSession;
  /** Set when the upstream session belongs to one agent session (isolation: per_session). */
  agentSessionId: string | undefined;
}

export interface UpstreamListener {
  catalogChanged(upstream: Upstream, kinds: readonly CatalogKind[]): void;
  /** A server message tied to no request: the relay decides who may see it. */
  serverMessage(upstream: Upstream, msg: JsonRpcMessage, origin: ServerMessageOrigin): void;
}

export interface UpstreamDeps {
  log: Logger;
  env: Readonly<Record<string, string | undefined>>;
  clientInfo: { name: string; version: string };
  listener: UpstreamListener;
}

// A Map: method names come from the upstream.
const LIST_CHANGED = new Map<string, CatalogKind[]>([
  ['notifications/tools/list_changed', ['tools']],
  ['notifications/prompts/list_changed', ['prompts']],
  ['notifications/resources/list_changed', ['resources', 'resourceTemplates']],
]);

/** What a shared upstream session may ask of agents: only what we can attribute to one request. */
const SHARED_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} } };

export class Upstream {
  state: UpstreamState;
  catalog: Catalog = emptyCatalog();
  init: InitializeOutcome | undefined;
  lastError: string | undefined;
  private shared: UpstreamSession | undefined;
  private readonly perSession = new Map<string, Promise<UpstreamSession>>();
  private retryDelay = 500;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly log: Logger;

  constructor(
    readonly cfg: UpstreamConfig,
    private readonly deps: UpstreamDeps,
  ) {
    this.state = cfg.enabled ? 'connecting' : 'disabled';
    this.log = deps.log.child({ upstream: cfg.name });
  }

  get name(): string {
    return this.cfg.name;
  }

  /** Connects once; on failure keeps retrying in the background. Never rejects. */
  async start(): Promise<void> {
    if (this.state === 'disabled') return;
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.state = 'connecting';
    const session = new UpstreamSession(createChannel(this.cfg, this.deps.env, this.log), {
      unrelated: (msg) => this.onUnrelated(msg, { session, agentSessionId: undefined }),
      closed: (reason) => this.onSharedClosed(session, reason),
    });
    this.shared = session;
    try {
      const caps = this.cfg.sharedRoots ? { ...SHARED_CLIENT_CAPABILITIES, roots: {} } : SHARED_CLIENT_CAPABILITIES;
      this.init = await session.start(this.deps.clientInfo, caps, this.cfg.timeouts.connectMs);
      await this.refresh(['tools', 'prompts', 'resources', 'resourceTemplates']);
      if (this.shared !== session) return;
      this.state = 'ready';
      this.retryDelay = 500;
      this.lastError = undefined;
      this.log.info({ protocolVersion: this.init.protocolVersion, tools: this.catalog.tools.length }, 'upstream ready');
      this.deps.listener.catalogChanged(this, ['tools', 'prompts', 'resources', 'resourceTemplates']);
    } catch (err) {
      this.lastError = (err as Error).message;
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
    this.retryDelay = Math.min(this.retryDelay * 2, 30_000);
  }

  private onSharedClosed(session: UpstreamSession, reason: string): void {
    if (this.shared !== session || this.stopped) return;
    this.log.warn({ reason }, 'upstream connection lost; reconnecting');
    this.shared = undefined;
    this.lastError = reason;
    const hadEntries = this.state === 'ready';
    this.catalog = emptyCatalog();
    void session.close().catch(() => undefined);
    this.scheduleRetry();
    if (hadEntries) this.deps.listener.catalogChanged(this, ['tools', 'prompts', 'resources', 'resourceTemplates']);
  }

  /** Fetch generation per list: a slower, older fetch must not overwrite a newer one. */
  private readonly generation: Record<CatalogKind, number> = { tools: 0, prompts: 0, resources: 0, resourceTemplates: 0 };

  private async refresh(kinds: readonly CatalogKind[]): Promise<void> {
    const session = this.shared;
    if (!session) return;
    const caps = session.init?.capabilities ?? {};
    await Promise.all(
      kinds.map(async (k) => {
        const gen = ++this.generation[k];
        const entries = CAPABILITY_OF[k] in caps ? await fetchList(session, k, this.cfg.timeouts.requestMs) : [];
        if (gen === this.generation[k] && this.shared === session) this.catalog = { ...this.catalog, [k]: entries };
      }),
    );
  }

  private onUnrelated(msg: JsonRpcMessage, origin: ServerMessageOrigin): void {
    if (!('method' in msg)) return;
    if (msg.method === 'ping' && 'id' in msg) {
      origin.session.respond({ jsonrpc: '2.0', id: msg.id, result: {} });
      return;
    }
    const kinds = LIST_CHANGED.get(msg.method);
    if (kinds) {
      this.refresh(kinds).then(
        () => this.deps.listener.catalogChanged(this, kinds),
        (err: Error) => this.log.warn({ err: err.message }, 'catalog refresh failed'),
      );
      return;
    }
    this.deps.listener.serverMessage(this, msg, origin);
  }

  /**
   * The upstream session that serves an agent session. `shared`: the one connection. `per_session`:
   * one made on first use with the agent's own capabilities, so roots, logging level and
   * subscriptions stay the agent's.
   */
  sessionFor(agentSessionId: string | undefined, agentCapabilities: Record<string, unknown>): Promise<UpstreamSession> {
    if (this.state === 'disabled') return Promise.reject(new GatewayError('upstream_unavailable', `upstream ${this.name} is disabled`));
    if (this.cfg.isolation === 'shared' || agentSessionId === undefined) {
      const s = this.shared;
      if (!s?.isAlive || this.state !== 'ready') {
        return Promise.reject(new GatewayError('upstream_unavailable', `upstream ${this.name} is unavailable${this.lastError ? `: ${this.lastError}` : ''}`));
      }
      return Promise.resolve(s);
    }
    const existing = this.perSession.get(agentSessionId);
    if (existing) return existing;
    if (this.perSession.size >= this.cfg.maxSessions) {
      return Promise.reject(new GatewayError('upstream_unavailable', `upstream ${this.name} has reached its session cap`));
    }
    const made = this.openPerSession(agentSessionId, agentCapabilities);
    this.perSession.set(agentSessionId, made);
    made.catch(() => this.perSession.delete(agentSessionId));
    return made;
  }

  private async openPerSession(agentSessionId: string, caps: Record<string, unknown>): Promise<UpstreamSession> {
    const session: UpstreamSession = new UpstreamSession(createChannel(this.cfg, this.deps.env, this.log), {
      unrelated: (msg) => this.onUnrelated(msg, { session, agentSessionId }),
      closed: () => this.perSession.delete(agentSessionId),
    });
    try {
      await session.start(this.deps.clientInfo, caps, this.cfg.timeouts.connectMs);
      return session;
    } catch (err) {
      await session.close().catch(() => undefined);
      throw new GatewayError('upstream_unavailable', `upstream ${this.name}: ${(err as Error).message}`);
    }
  }

  /** Ends the agent session's own upstream session, if it has one. */
  release(agentSessionId: string): void {
    const s = this.perSession.get(agentSessionId);
    if (!s) return;
    this.perSession.delete(agentSessionId);
    s.then((x) => x.close(), () => undefined).catch(() => undefined);
  }

  /** Every live upstream session (for broadcast notifications such as logging/setLevel). */
  async liveSessionFor(agentSessionId: string | undefined): Promise<UpstreamSession | undefined> {
    if (this.cfg.isolation === 'per_session' && agentSessionId) return this.perSession.get(agentSessionId);
    return this.shared?.isAlive ? this.shared : undefined;
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const all = [...this.perSession.values()];
    this.perSession.clear();
    await Promise.all([
      this.shared?.close(),
      ...all.map((p) => p.then((s) => s.close(), () => undefined)),
    ]);
    this.shared = undefined;
  }
}
