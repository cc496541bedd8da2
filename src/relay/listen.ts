// `subscriptions/listen` (2026): each open stream gets the notifications its agent asked for and its
// policy lets it see — list_changed after upstream catalog changes and policy reloads, and
// resources/updated for the URIs it named. Resource subscriptions map onto the upstream's own
// `resources/subscribe` on the shared session: subscribed with the first listener of a URI,
// unsubscribed when the last one goes.
import type { StreamBounds } from '../mcp/stream-bounds.js';
import type { Logger } from 'pino';
import { isObject, type JsonRpcNotification, type RequestId } from '../mcp/jsonrpc.js';
import { EventStream } from '../mcp/event-stream.js';
import { GatewayError } from '../errors.js';
import type { AgentIdentity } from '../auth/identity.js';
import type { AccessKind, AgentAccess } from '../policy/access.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { CatalogKind } from '../upstream/catalog.js';
import type { Upstream } from '../upstream/upstream.js';
import type { UpstreamSession } from '../upstream/session.js';
import type { View } from './view.js';
import { normalizeUri } from '../policy/normalize.js';

export const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

export interface ListenFilter {
  toolsListChanged?: true;
  promptsListChanged?: true;
  resourcesListChanged?: true;
  resourceSubscriptions?: string[];
}

type ListKind = 'tools' | 'prompts' | 'resources';
const FLAG: Record<ListKind, 'toolsListChanged' | 'promptsListChanged' | 'resourcesListChanged'> = {
  tools: 'toolsListChanged',
  prompts: 'promptsListChanged',
  resources: 'resourcesListChanged',
};
const ACCESS: Record<ListKind, AccessKind> = { tools: 'tool', prompts: 'prompt', resources: 'resource' };
const LIST_OF: Partial<Record<CatalogKind, ListKind>> = {
  tools: 'tools',
  prompts: 'prompts',
  resources: 'resources',
  resourceTemplates: 'resources',
};

export interface Listener {
  readonly id: RequestId;
  readonly identity: AgentIdentity;
  access: AgentAccess;
  readonly view: View;
  readonly honoured: ListenFilter;
  readonly stream: EventStream;
  /** Honoured resource URIs (normalised, as its updates name them) and where each lives upstream. */
  readonly uris: Map<string, { upstream: Upstream; native: string }>;
}

export interface ListenHubDeps {
  canonical(server: string, kind: AccessKind, native: string): string;
  serverInfo: Record<string, unknown>;
  limits: { maxPerAgent: number; maxStreams: number; maxResourceUris: number };
  log: Logger;
  streamBounds: StreamBounds;
}

/** The hub holds upstream subscriptions for all its listeners together. */
const LISTEN_HOLDER = '\0listen';

export class ListenHub {
  private readonly listeners = new Set<Listener>();
  /** Upstream resource subscriptions: `<server>\n<native uri>` → listeners and the session used. */
  private readonly upstreamSubs = new Map<string, { count: number; session: UpstreamSession | undefined }>();

  constructor(private readonly deps: ListenHubDeps) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Opens a listener with the honoured subset of `filter`, its acknowledgement already queued. */
  open(identity: AgentIdentity, access: AgentAccess, view: View, id: RequestId, filter: ListenFilter): Listener {
    const { maxPerAgent, maxStreams, maxResourceUris } = this.deps.limits;
    const mine = [...this.listeners].filter((l) => l.identity.id === identity.id).length;
    if (mine >= maxPerAgent || this.listeners.size >= maxStreams) {
      throw new GatewayError(
        'rate_limited',
        `too many open subscriptions/listen streams (${mine >= maxPerAgent ? `${maxPerAgent} for this agent` : `${maxStreams} in all`})`,
        { retryAfterSeconds: null, limit: 'listen streams', remaining: 0 },
      );
    }
    const honoured: ListenFilter = {};
    for (const kind of ['tools', 'prompts', 'resources'] as const) if (filter[FLAG[kind]]) honoured[FLAG[kind]] = true;
    const uris = new Map<string, { upstream: Upstream; native: string }>();
    for (const uri of filter.resourceSubscriptions ?? []) {
      if (uris.size >= maxResourceUris) break;
      const t = view.resolveUri(uri);
      const caps = t?.upstream.init?.capabilities.resources;
      // Judged and subscribed in normal form, as reads are: `pub/../secret` is `secret` to a
      // server that resolves it, whatever a glob on the raw spelling says. A URI that cannot be
      // normalised is not honoured.
      const n = t ? normalizeUri(t.native) : undefined;
      // Only what the upstream can announce and the policy lets this agent read; never on an
      // upstream with per-user credentials (the shared session subscribes with someone else's).
      if (
        !t ||
        !n?.ok ||
        !isObject(caps) ||
        caps.subscribe !== true ||
        t.upstream.perUserCredentials ||
        !access.visible('resource', this.deps.canonical(t.upstream.name, 'resource', n.value))
      )
        continue;
      uris.set(view.uri(t.upstream, n.value), { upstream: t.upstream, native: n.value });
    }
    if (uris.size > 0) honoured.resourceSubscriptions = [...uris.keys()];
    // A few events kept: the acknowledgement is queued before the HTTP response attaches.
    const listener: Listener = {
      id,
      identity,
      access,
      view,
      honoured,
      stream: new EventStream('0', 4, this.deps.streamBounds),
      uris,
    };
    this.send(listener, {
      jsonrpc: '2.0',
      method: 'notifications/subscriptions/acknowledged',
      params: { notifications: honoured },
    });
    this.listeners.add(listener);
    for (const { upstream, native } of uris.values()) this.subscribe(upstream, native);
    return listener;
  }

  /** The agent went away (or the gateway ended the stream). */
  close(l: Listener): void {
    if (!this.listeners.delete(l)) return;
    for (const { upstream, native } of l.uris.values()) this.unsubscribe(upstream, native);
  }

  /** Graceful shutdown: each stream ends with its `complete` result, as the spec asks. */
  closeAll(): void {
    for (const l of [...this.listeners]) {
      l.stream.push({
        jsonrpc: '2.0',
        id: l.id,
        result: {
          resultType: 'complete',
          _meta: { [SUBSCRIPTION_ID]: l.id, 'io.modelcontextprotocol/serverInfo': this.deps.serverInfo },
        },
      });
      l.stream.finish();
      this.close(l);
    }
  }

  catalogChanged(upstream: Upstream, kinds: readonly CatalogKind[]): void {
    const lists = new Set(kinds.map((k) => LIST_OF[k]).filter((k): k is ListKind => k !== undefined));
    for (const l of this.listeners) {
      if (!l.view.upstreams.includes(upstream)) continue;
      for (const kind of lists) {
        // Told only when the agent can see something of that kind there (after the change or,
        // when the upstream just went away, the change emptied what it saw).
        if (l.honoured[FLAG[kind]] && (this.seesAny(l, upstream, kind) || upstream.state !== 'ready'))
          this.send(l, { jsonrpc: '2.0', method: `notifications/${kind}/list_changed` });
      }
    }
    if (upstream.state === 'ready') this.resubscribe(upstream);
  }

  /** After a policy reload: new access for each listener, list_changed where its view changed. */
  policiesChanged(next: PolicySet): void {
    for (const l of this.listeners) {
      const before = l.access;
      l.access = next.access(l.identity);
      for (const kind of ['tools', 'prompts', 'resources'] as const) {
        if (l.honoured[FLAG[kind]] && this.visible(l, before, kind) !== this.visible(l, l.access, kind))
          this.send(l, { jsonrpc: '2.0', method: `notifications/${kind}/list_changed` });
      }
    }
  }

  /** An upstream's `notifications/resources/updated`: to the listeners that named that URI. */
  resourceUpdated(upstream: Upstream, msg: JsonRpcNotification): void {
    const native = isObject(msg.params) && typeof msg.params.uri === 'string' ? msg.params.uri : undefined;
    if (native === undefined) return;
    for (const l of this.listeners) {
      if (!l.view.upstreams.includes(upstream)) continue;
      const uri = l.view.uri(upstream, native);
      if (!l.uris.has(uri) || !l.access.visible('resource', this.deps.canonical(upstream.name, 'resource', native)))
        continue;
      this.send(l, { ...msg, params: { ...msg.params, uri } });
    }
  }

  private send(l: Listener, n: JsonRpcNotification): void {
    const params = n.params ?? {};
    const meta = isObject(params._meta) ? params._meta : {};
    l.stream.push({ ...n, params: { ...params, _meta: { ...meta, [SUBSCRIPTION_ID]: l.id } } });
  }

  private names(l: Listener, access: AgentAccess, kind: ListKind, only?: Upstream): string[] {
    return (only ? [only] : l.view.upstreams).flatMap((u) =>
      u.catalog[kind]
        .map((e) => this.deps.canonical(u.name, ACCESS[kind], String(kind === 'resources' ? e.uri : e.name)))
        .filter((n) => access.visible(ACCESS[kind], n)),
    );
  }

  private visible(l: Listener, access: AgentAccess, kind: ListKind): string {
    return this.names(l, access, kind).join('\n');
  }

  private seesAny(l: Listener, upstream: Upstream, kind: ListKind): boolean {
    return this.names(l, l.access, kind, upstream).length > 0;
  }

  // ---- upstream resources/subscribe, reference-counted --------------------------------------

  private subscribe(upstream: Upstream, native: string): void {
    const key = `${upstream.name}\n${native}`;
    const sub = this.upstreamSubs.get(key);
    if (sub) {
      sub.count++;
      return;
    }
    this.upstreamSubs.set(key, { count: 1, session: undefined });
    void this.call(upstream, 'resources/subscribe', native).then((s) => {
      const now = this.upstreamSubs.get(key);
      if (now) now.session = s;
    });
  }

  private unsubscribe(upstream: Upstream, native: string): void {
    const key = `${upstream.name}\n${native}`;
    const sub = this.upstreamSubs.get(key);
    if (!sub || --sub.count > 0) return;
    this.upstreamSubs.delete(key);
    void this.call(upstream, 'resources/unsubscribe', native);
  }

  /** A reconnected upstream forgot our subscriptions: subscribe again on its new session. */
  private resubscribe(upstream: Upstream): void {
    for (const [key, sub] of this.upstreamSubs) {
      const [server, native] = [key.slice(0, key.indexOf('\n')), key.slice(key.indexOf('\n') + 1)];
      if (server !== upstream.name) continue;
      void upstream.liveSessionFor(undefined).then((live) => {
        if (!live || live === sub.session) return;
        sub.session = live;
        void this.call(upstream, 'resources/subscribe', native);
      });
    }
  }

  private async call(upstream: Upstream, method: string, native: string): Promise<UpstreamSession | undefined> {
    const s = await upstream.liveSessionFor(undefined);
    if (!s) return undefined;
    // 2025 agents may hold the same subscription on this session: only the first and last count.
    const first =
      method === 'resources/subscribe'
        ? s.isAlive && upstream.holds.hold(s, native, LISTEN_HOLDER)
        : upstream.holds.release(s, native, LISTEN_HOLDER);
    if (!first) return s;
    const t = upstream.cfg.timeouts.requestMs;
    const res = await s
      .request(method, { uri: native }, { timeoutMs: t, maxTotalMs: t })
      .catch((err: Error) => ({ error: { message: err.message } }));
    if ('error' in res)
      this.deps.log.warn(
        { upstream: upstream.name, method, uri: native, err: res.error.message },
        'upstream resource subscription failed',
      );
    return s;
  }
}
