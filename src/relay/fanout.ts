// Upstream events and policy reloads, fanned out to the agent sessions that may see them:
// list_changed after a catalog or policy change, resource updates to subscribers only, log
// messages by level, and server requests only where one agent can be named.
import { isObject, errorMessage, type JsonRpcMessage } from '../mcp/jsonrpc.js';
import { LOG_LEVELS, type AgentSession } from '../mcp/agent-session.js';
import type { UpstreamSession } from '../upstream/session.js';
import type { AgentIdentity } from '../auth/identity.js';
import type { AccessKind } from '../policy/access.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { CatalogKind } from '../upstream/catalog.js';
import type { ServerMessageOrigin, Upstream, UpstreamListener } from '../upstream/upstream.js';
import { deliverServerRequest, levelAllows, withdrawServerRequest } from './forward.js';
import type { RequestScope } from './scope.js';
import type { View } from './view.js';
import type { ListenHub } from './listen.js';

export const ACCESS_OF: Record<CatalogKind, AccessKind> = {
  tools: 'tool',
  prompts: 'prompt',
  resources: 'resource',
  resourceTemplates: 'resource',
};

const CHANGED_NOTIFICATION: Record<CatalogKind, string> = {
  tools: 'notifications/tools/list_changed',
  prompts: 'notifications/prompts/list_changed',
  resources: 'notifications/resources/list_changed',
  resourceTemplates: 'notifications/resources/list_changed',
};

export interface FanoutContext {
  sessions(): Iterable<AgentSession>;
  view(key: string): View;
  scopeFor(identity: AgentIdentity, session: AgentSession, view: View): RequestScope;
  canonical(server: string, kind: AccessKind, native: string): string;
}

export class Fanout implements UpstreamListener {
  constructor(
    private readonly ctx: FanoutContext,
    /** 2026 agents' subscriptions/listen streams get the same events, filtered their way. */
    private readonly listen: ListenHub,
  ) {}

  /** After a policy reload: tell each live session whose view changed to list again. */
  policiesChanged(prev: PolicySet, next: PolicySet): void {
    this.listen.policiesChanged(next);
    for (const s of this.ctx.sessions()) {
      if (!s.initialized) continue;
      const view = this.ctx.view(s.viewKey);
      const before = prev.access(s.identity);
      const after = next.access(s.identity);
      for (const kind of ['tools', 'prompts', 'resources'] as const) {
        const seen = (a: typeof before): string =>
          view.upstreams
            .flatMap((u) =>
              u.catalog[kind].map((e) =>
                this.ctx.canonical(u.name, ACCESS_OF[kind], String(kind === 'resources' ? e.uri : e.name)),
              ),
            )
            .filter((n) => a.visible(ACCESS_OF[kind], n))
            .join('\n');
        if (seen(before) !== seen(after)) s.send({ jsonrpc: '2.0', method: CHANGED_NOTIFICATION[kind] });
      }
    }
  }

  // ---- upstream events --------------------------------------------------------------------

  catalogChanged(upstream: Upstream, kinds: readonly CatalogKind[]): void {
    this.listen.catalogChanged(upstream, kinds);
    const methods = new Set(kinds.map((k) => CHANGED_NOTIFICATION[k]));
    for (const s of this.ctx.sessions()) {
      if (!s.initialized || !this.sees(s, upstream)) continue;
      for (const method of methods) s.send({ jsonrpc: '2.0', method });
    }
  }

  serverMessage(upstream: Upstream, msg: JsonRpcMessage, origin: ServerMessageOrigin): void {
    if (!('method' in msg)) return;
    const targets = [...this.ctx.sessions()].filter(
      (s) =>
        this.sees(s, upstream) &&
        (origin.agentSessionId === undefined || s.id === origin.agentSessionId) &&
        (origin.agentId === undefined || s.agentId === origin.agentId),
    );
    if ('id' in msg) {
      // Only a session of its own can be named as the one asking (per_agent: when the agent has one).
      const only = origin.agentId !== undefined && targets.length === 1 ? targets[0] : undefined;
      if (!only) {
        origin.session.respond(
          errorMessage(msg.id, {
            code: -32603,
            message: `Tollgate cannot attribute ${msg.method} to one agent on a shared upstream session`,
          }),
        );
        return;
      }
      const scope = this.ctx.scopeFor(only.identity, only, this.ctx.view(only.viewKey));
      deliverServerRequest(scope, origin.session, upstream.name, msg, (m) => only.send(m));
      return;
    }
    if (msg.method === 'notifications/cancelled') return withdrawServerRequest(targets, origin.session, msg);
    if (msg.method === 'notifications/resources/updated') this.listen.resourceUpdated(upstream, msg);
    for (const s of targets) {
      const view = this.ctx.view(s.viewKey);
      if (msg.method === 'notifications/resources/updated') {
        const uri =
          isObject(msg.params) && typeof msg.params.uri === 'string' ? view.uri(upstream, msg.params.uri) : undefined;
        if (uri && s.subscriptions.has(uri)) s.send({ ...msg, params: { ...msg.params, uri } });
      } else if (msg.method !== 'notifications/message' || levelAllows(s.logLevel, msg)) {
        s.send(msg);
      }
    }
  }

  /**
   * The agent session moved to a new upstream session (its replica failed or its process was
   * restarted): subscribe again to what it had subscribed to there, and set its log level.
   */
  async reattached(upstream: Upstream, agentSessionId: string, session: UpstreamSession): Promise<void> {
    const s = [...this.ctx.sessions()].find((x) => x.id === agentSessionId);
    if (!s) return;
    const view = this.ctx.view(s.viewKey);
    const opts = { timeoutMs: upstream.cfg.timeouts.requestMs, maxTotalMs: upstream.cfg.timeouts.requestMs };
    const restore: Promise<unknown>[] = [];
    for (const uri of s.subscriptions) {
      const t = view.resolveUri(uri);
      if (t?.upstream === upstream && upstream.holds.hold(session, t.native, s.id))
        restore.push(session.request('resources/subscribe', { uri: t.native }, opts));
    }
    // A shared session is every agent's: no one agent's level (see setLogLevel).
    const level = s.logLevel === undefined ? undefined : LOG_LEVELS[s.logLevel];
    if (level && upstream.cfg.isolation !== 'shared' && upstream.init && 'logging' in upstream.init.capabilities)
      restore.push(session.request('logging/setLevel', { level }, opts));
    // Best effort: a failure here must not fail the call that triggered the move.
    await Promise.allSettled(restore);
  }

  private sees(s: AgentSession, u: Upstream): boolean {
    return s.viewKey === '' || s.viewKey === u.name;
  }
}
