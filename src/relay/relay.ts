// The message-level relay: decides what each agent message means, answers what the gateway can
// answer itself (initialize, ping, lists), routes the rest to one upstream, and fans upstream
// events out to the agent sessions allowed to see them.
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import {
  isObject,
  resultMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../mcp/jsonrpc.js';
import type { AgentSession } from '../mcp/agent-session.js';
import { GatewayError, asGatewayError } from '../errors.js';
import type { RuntimeConfig } from '../config/runtime.js';
import type { CatalogKind, Entry } from '../upstream/catalog.js';
import type { AccessKind } from '../policy/access.js';
import type { PolicyStore } from '../policy/store.js';
import type { AgentIdentity } from '../auth/identity.js';
import { scopeFields, type AuditRecorder } from '../audit/step.js';
import type { Upstream } from '../upstream/upstream.js';
import { aggregateView, singleView, type Target, type View } from './view.js';
import { listEntries } from './lists.js';
import { forward } from './forward.js';
import { INPUT_METHODS, forwardWithInput, type InputForwardDeps } from './forward-input.js';
import { InputFlows } from './input-flows.js';
import { ListenHub, type ListenFilter, type Listener } from './listen.js';
import { VERSION } from '../version.js';
import type { Exchange, McpCall, McpStep, RequestScope } from './scope.js';
import { ACCESS_OF, Fanout } from './fanout.js';
import { discoverResult, initializeResult } from './capabilities.js';
import { relayAgentAnswer, relayAgentNotification, setLogLevel, type DroppedNotification } from './agent-messages.js';
import { listedUri, normalizedTarget } from './resource-uris.js';
import { completionShaper } from './completion-filter.js';

/** MCP request methods, folded (lower case, NFKC): other spellings of them are never relayed. */
const MCP_METHODS = new Set(
  'initialize ping tools/list tools/call prompts/list prompts/get resources/list resources/templates/list resources/read resources/subscribe resources/unsubscribe completion/complete logging/setlevel server/discover subscriptions/listen sampling/createmessage elicitation/create roots/list tasks/get tasks/list tasks/result tasks/cancel'.split(
    ' ',
  ),
);

// Maps, not object literals: method names come from agents (`constructor` is not a list).
const LIST_KIND = new Map<string, CatalogKind>([
  ['tools/list', 'tools'],
  ['prompts/list', 'prompts'],
  ['resources/list', 'resources'],
  ['resources/templates/list', 'resourceTemplates'],
]);
export interface SessionDirectory {
  all(): Iterable<AgentSession>;
}

export class Relay {
  readonly aggregate: View;
  private readonly single = new Map<string, View>();
  upstreams: readonly Upstream[] = [];
  private sessions: SessionDirectory = { all: () => [] };

  constructor(
    private readonly cfg: RuntimeConfig,
    private readonly steps: readonly McpStep[],
    private readonly log: Logger,
    upstreams: readonly Upstream[],
    private readonly policies: PolicyStore,
    readonly recorder: AuditRecorder,
  ) {
    this.upstreams = upstreams;
    this.aggregate = aggregateView(upstreams, cfg.mcp.nameSeparator, cfg.mcp.prefixResourceUris);
    for (const u of upstreams) this.single.set(u.name, singleView(u));
    this.listen = new ListenHub({
      canonical: (server, kind, native) => this.canonical(server, kind, native),
      serverInfo: { name: cfg.mcp.serverName, title: 'Tollgate MCP gateway', version: VERSION },
      limits: cfg.mcp.listen,
      log,
    });
    this.fanout = new Fanout(
      {
        sessions: () => this.sessions.all(),
        view: (key) => this.view(key) ?? this.aggregate,
        scopeFor: (identity, session, view) => this.scopeFor(identity, session, view),
        canonical: (server, kind, native) => this.canonical(server, kind, native),
      },
      this.listen,
    );
    this.inputFlows = new InputFlows(cfg.mcp.inputRequired);
    this.inputDeps = { flows: this.inputFlows, recorder, log };
  }

  /** Upstream events and policy reloads, fanned out to the agent sessions allowed to see them. */
  readonly fanout: Fanout;
  /** 2026 agents' subscriptions/listen streams. */
  readonly listen: ListenHub;
  /** 2026 agents' calls parked on an input_required round. */
  readonly inputFlows: InputFlows;
  private readonly inputDeps: InputForwardDeps;

  /** Whether tool lists show a tool at all, whoever asks (pinning hides changed tools). */
  toolListed: (upstream: Upstream, tool: Entry) => boolean = () => true;

  attachSessions(dir: SessionDirectory): void {
    this.sessions = dir;
  }

  view(key: string): View | undefined {
    return key === '' ? this.aggregate : this.single.get(key);
  }

  /** The per-request context: who, through which endpoint, with what access right now. */
  scopeFor(
    identity: AgentIdentity,
    session: AgentSession | undefined,
    view: View,
    trace?: RequestScope['trace'],
  ): RequestScope {
    return {
      trace,
      agentId: identity.id,
      identity,
      access: this.policies.current().access(identity),
      session,
      view,
      capabilities: session?.capabilities ?? {},
    };
  }

  negotiateVersion(requested: unknown): string {
    return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
      ? requested
      : LATEST_PROTOCOL_VERSION;
  }

  initializeResult(view: View, protocolVersion: string): Record<string, unknown> {
    return initializeResult(this.cfg.mcp.serverName, view, protocolVersion);
  }

  /** `server/discover` (2026): what this agent can use through this endpoint. */
  discoverResult(scope: RequestScope, id: JsonRpcRequest['id']): JsonRpcResponse {
    return resultMessage(
      id,
      discoverResult(this.initializeResult(scope.view, '2026-07-28'), scope, (u, k, n) => this.canonical(u, k, n)),
    );
  }

  /** Handles one agent request (not initialize, which the transport owns). Never throws. */
  /** Agent requests being handled now (a graceful shutdown waits for them). */
  inFlight = 0;

  async handleRequest(scope: RequestScope, req: JsonRpcRequest, exchange: Exchange): Promise<JsonRpcResponse> {
    this.inFlight++;
    try {
      return await this.route(scope, req, exchange);
    } catch (err) {
      // Routing failed before the pipeline ran (unknown tool, bad params): still run it, so the
      // audit records the refused call. Never rejects: a transport always gets an answer.
      return this.runSteps(scope, req, undefined, () => Promise.reject(err)).catch((e: unknown) =>
        this.failure(e, req),
      );
    } finally {
      this.inFlight--;
    }
  }

  private failure(err: unknown, req: JsonRpcRequest): JsonRpcResponse {
    const ge = asGatewayError(err);
    if (ge.kind === 'internal') this.log.error({ err, method: req.method }, 'relay failure');
    return ge.toJsonRpc(req.id);
  }

  private async route(scope: RequestScope, req: JsonRpcRequest, exchange: Exchange): Promise<JsonRpcResponse> {
    const { view } = scope;
    const params = req.params ?? {};
    const kind = LIST_KIND.get(req.method);
    if (kind) {
      const visible = (u: Upstream, k: CatalogKind, e: Entry): boolean => {
        if (k === 'tools' && !this.toolListed(u, e)) return false;
        // Resources are judged in normal form, as reads are (a URI that cannot be normalised is hidden).
        const native = k === 'resources' ? listedUri(e) : String(k === 'resourceTemplates' ? e.uriTemplate : e.name);
        return native !== null && scope.access.visible(ACCESS_OF[k], this.canonical(u.name, ACCESS_OF[k], native));
      };
      return this.runSteps(scope, req, undefined, async () =>
        resultMessage(req.id, listEntries(view, kind, params.cursor, this.cfg.mcp.listPageSize, visible)),
      );
    }
    switch (req.method) {
      case 'ping':
        return resultMessage(req.id, {});
      case 'tools/call':
      case 'prompts/get': {
        const t = this.mustResolve(
          view.resolveName(stringParam(params.name, 'params.name')),
          req.method === 'tools/call' ? 'tool' : 'prompt',
          params.name,
        );
        return this.routed(
          scope,
          req,
          exchange,
          t,
          { ...params, name: t.native },
          req.method === 'tools/call' ? 'tool' : 'prompt',
          params.arguments,
        );
      }
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        // Policy judges, and the upstream receives, the normal form (no `..`, no escaped dots).
        const t = normalizedTarget(
          this.mustResolve(view.resolveUri(stringParam(params.uri, 'params.uri')), 'resource', params.uri),
        );
        const uri = view.uri(t.upstream, t.native); // what its resources/updated will be matched against
        if (req.method !== 'resources/read' && scope.session) {
          if (req.method === 'resources/subscribe') scope.session.subscriptions.add(uri);
          else scope.session.subscriptions.delete(uri);
          scope.session.shareState(this.cfg.sessions.maxAgeMs);
        }
        return this.routed(scope, req, exchange, t, { ...params, uri: t.native }, 'resource');
      }
      case 'completion/complete':
        return this.complete(scope, req, exchange, params);
      case 'logging/setLevel':
        return setLogLevel(scope, req, params, this.cfg.sessions.maxAgeMs);
      default: {
        // A spelling of an MCP method (`Tools/Call`) is not relayed: an upstream matching methods
        // loosely would run it without the checks the gateway gives the real one.
        if (MCP_METHODS.has(req.method.normalize('NFKC').toLowerCase()))
          throw new GatewayError('method_not_found', `method not found: ${req.method}`);
        // Unknown methods are relayed: to the one upstream of a per-server view, or wherever the
        // params name or URI points.
        const t = view.namespaced
          ? ((typeof params.name === 'string' ? view.resolveName(params.name) : undefined) ??
            (typeof params.uri === 'string' ? view.resolveUri(params.uri) : undefined))
          : { upstream: view.upstreams[0] as Upstream, native: '' };
        if (!t) throw new GatewayError('method_not_found', `method not found: ${req.method}`);
        const p = !view.namespaced
          ? req.params
          : typeof params.name === 'string'
            ? { ...params, name: t.native }
            : { ...params, uri: t.native };
        // Policies see an unknown method as a tool named after the method (`<server>__custom/x`).
        return this.routed(scope, req, exchange, { upstream: t.upstream, native: req.method }, p, 'tool', params);
      }
    }
  }

  private mustResolve(t: Target | undefined, what: string, given: unknown): Target {
    if (!t) throw new GatewayError('unknown_target', `unknown ${what}: ${String(given)}`);
    return t;
  }

  private routed(
    scope: RequestScope,
    req: JsonRpcRequest,
    exchange: Exchange,
    t: Target,
    params: Record<string, unknown> | undefined,
    kind: AccessKind,
    args?: unknown,
    /** Reshapes a successful result inside the pipeline (so the audit records what the agent gets). */
    shape?: (result: Record<string, unknown>) => Record<string, unknown>,
  ): Promise<JsonRpcResponse> {
    const target = {
      server: t.upstream.name,
      native: t.native,
      kind,
      canonical: this.canonical(t.upstream.name, kind, t.native),
      args,
    };
    const identityHeader = this.cfg.auth.forwardIdentityHeader;
    let headers: Record<string, string> | undefined;
    if (scope.trace) headers = { 'x-request-id': scope.trace.requestId, traceparent: scope.trace.traceparent };
    if (identityHeader) headers = { ...headers, [identityHeader.toLowerCase()]: scope.agentId };
    // A stateless (2026) agent of a 2025 upstream is asked for input in input_required rounds, not by requests.
    // (A 2026 upstream asks in input_required results itself: those pass through unchanged.)
    if (scope.paramHeaders) headers = { ...scope.paramHeaders, ...headers };
    if (!scope.session && INPUT_METHODS.has(req.method) && !t.upstream.modern) {
      return this.runSteps(scope, req, target, (call) =>
        forwardWithInput(this.inputDeps, scope, req, t.upstream, params, exchange, headers, call),
      );
    }
    return this.runSteps(scope, req, target, async (call) => {
      const res = await forward(scope, req, t.upstream, params, exchange, headers, call);
      return shape && 'result' in res ? { ...res, result: shape(res.result) } : res;
    });
  }

  /** The name policies use: namespaced as on /mcp, whichever endpoint the request came to. */
  canonical(server: string, kind: AccessKind, native: string): string {
    return kind === 'resource' ? `${server}+${native}` : `${server}${this.cfg.mcp.nameSeparator}${native}`;
  }

  /** Runs the message-level pipeline (see app.ts for the order) around the final handler. */
  private runSteps(
    scope: RequestScope,
    request: JsonRpcRequest,
    target: McpCall['target'],
    last: (call: McpCall) => Promise<JsonRpcResponse>,
  ): Promise<JsonRpcResponse> {
    const call: McpCall = { scope, request, target };
    const run = (i: number): Promise<JsonRpcResponse> => {
      const step = this.steps[i];
      // Failures become responses here, so every step (the audit above all) sees an answer.
      return step ? step(call, () => run(i + 1)) : last(call).catch((err: unknown) => this.failure(err, request));
    };
    return run(0);
  }

  private complete(
    scope: RequestScope,
    req: JsonRpcRequest,
    exchange: Exchange,
    params: Record<string, unknown>,
  ): Promise<JsonRpcResponse> {
    const ref = isObject(params.ref) ? params.ref : {};
    // Values are filtered as lists are; a ref/resource template must be exactly one the upstream
    // lists (the known-names step), so it is not normalised here.
    const shape = completionShaper(params, scope.access, (u, uri) => this.canonical(u.name, 'resource', uri));
    if (ref.type === 'ref/prompt') {
      const t = this.mustResolve(scope.view.resolveName(stringParam(ref.name, 'params.ref.name')), 'prompt', ref.name);
      const p = { ...params, ref: { ...ref, name: t.native } };
      return this.routed(scope, req, exchange, t, p, 'prompt', undefined, shape(t, undefined));
    }
    if (ref.type === 'ref/resource') {
      const t = this.mustResolve(scope.view.resolveUri(stringParam(ref.uri, 'params.ref.uri')), 'resource', ref.uri);
      const p = { ...params, ref: { ...ref, uri: t.native } };
      return this.routed(scope, req, exchange, t, p, 'resource', undefined, shape(t, t.native));
    }
    throw new GatewayError('invalid_params', 'completion/complete needs ref/prompt or ref/resource');
  }

  /** Counts agent notifications that went nowhere (see relayAgentNotification). */
  notificationDropped: (reason: DroppedNotification) => void = () => undefined;

  /** Agent notifications: only those about the agent's own requests and sessions go anywhere. */
  handleNotification(scope: RequestScope, n: JsonRpcNotification): void {
    relayAgentNotification(scope, n, (reason) => {
      this.notificationDropped(reason);
      this.log.debug({ agent: scope.agentId, method: n.method.slice(0, 200), reason }, 'agent notification dropped');
    });
  }

  /** An agent's answer to a server-to-client request we forwarded: audited, then relayed. */
  handleResponse(scope: RequestScope, r: JsonRpcResponse): Promise<void> {
    return relayAgentAnswer(scope, r, this.recorder, this.log);
  }

  /**
   * `subscriptions/listen`: runs the pipeline (audited like any request), then opens the listener.
   * Answers the error, or the listener whose stream carries the acknowledgement first.
   */
  async openListen(
    scope: RequestScope,
    req: JsonRpcRequest,
    filter: ListenFilter,
  ): Promise<JsonRpcResponse | Listener> {
    let listener: Listener | undefined;
    const res = await this.runSteps(scope, req, undefined, async () => {
      listener = this.listen.open(scope.identity, scope.access, scope.view, req.id, filter);
      return resultMessage(req.id, { honoured: listener.honoured });
    });
    return listener && 'result' in res ? listener : res;
  }

  /** Shutdown: parked calls are abandoned, listen streams end with their `complete` result. */
  closeStateless(): void {
    this.inputFlows.closeAll();
    this.listen.closeAll();
  }

  /** Initialize is answered by the transport; its record is written here, before the answer. */
  recordInitialize(scope: RequestScope, requestId: JsonRpcRequest['id']): Promise<void> {
    return this.recorder.record({
      ...scopeFields(scope),
      'mcp.method.name': 'initialize',
      'jsonrpc.request.id': requestId,
    });
  }
}

/** A name or URI param as a string; anything else (an object, a number) is the agent's error, -32602. */
function stringParam(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new GatewayError('invalid_params', `Invalid params: ${where} must be a string`);
  return v;
}
