// The message-level relay: decides what each agent message means, answers what the gateway can
// answer itself (initialize, ping, lists), routes the rest to one upstream, and fans upstream
// events out to the agent sessions allowed to see them.
import type { StreamBounds } from '../mcp/stream-bounds.js';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { resultMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import type { AgentSession, ServerRequestLimits } from '../mcp/agent-session.js';
import { asGatewayError } from '../errors.js';
import type { RuntimeConfig } from '../config/runtime.js';
import type { Entry } from '../upstream/catalog.js';
import type { AccessKind } from '../policy/access.js';
import type { PolicyStore } from '../policy/store.js';
import type { AgentIdentity } from '../auth/identity.js';
import { scopeFields, type AuditRecorder } from '../audit/step.js';
import type { Upstream } from '../upstream/upstream.js';
import { aggregateView, singleView, type Target, type View } from './view.js';
import { forward } from './forward.js';
import { INPUT_METHODS, forwardWithInput, type InputForwardDeps } from './forward-input.js';
import { InputFlows } from './input-flows.js';
import { ListenHub, type ListenFilter, type Listener } from './listen.js';
import { VERSION } from '../version.js';
import type { Exchange, McpCall, McpStep, RequestScope } from './scope.js';
import { Fanout } from './fanout.js';
import { discoverResult, initializeResult } from './capabilities.js';
import { relayAgentAnswer, relayAgentNotification, type DroppedNotification } from './agent-messages.js';
import { routeRequest, type RouteHost } from './route.js';
import { forwardHeaders } from './forward-headers.js';
import { tracedHeaders, tracedParams } from '../telemetry/propagate.js';

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
    this.streamBounds = { maxQueuedBytes: cfg.server.sseMaxQueuedBytes };
    this.serverRequestLimits = cfg.mcp.serverRequests;
    this.listen = new ListenHub({
      streamBounds: this.streamBounds,
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
    this.routeHost = {
      cfg,
      toolListed: (u, e) => this.toolListed(u, e),
      canonical: (server, kind, native) => this.canonical(server, kind, native),
      runSteps: (scope, request, target, last) => this.runSteps(scope, request, target, last),
      routed: (...a) => this.routed(...a),
    };
  }

  /** Upstream events and policy reloads, fanned out to the agent sessions allowed to see them. */
  readonly fanout: Fanout;
  /** 2026 agents' subscriptions/listen streams. */
  readonly listen: ListenHub;
  /** How much each SSE stream to an agent may hold; the gateway adds who hears of overflows. */
  readonly streamBounds: StreamBounds;
  /** mcp.server_requests: for sessions made outside the session store (legacy SSE). */
  readonly serverRequestLimits: ServerRequestLimits;
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

  /** Agent requests being handled now (a graceful shutdown waits for them). */
  inFlight = 0;

  /** Handles one agent request (not initialize, which the transport owns). Never rejects. */
  handleRequest(scope: RequestScope, req: JsonRpcRequest, exchange: Exchange): Promise<JsonRpcResponse> {
    this.inFlight++;
    let routed: Promise<JsonRpcResponse>;
    try {
      routed = routeRequest(this.routeHost, scope, req, exchange);
    } catch (err) {
      routed = Promise.reject(err);
    }
    return routed.then(
      (res) => {
        this.inFlight--;
        return res;
      },
      (err: unknown) => {
        this.inFlight--;
        // Routing failed before the pipeline ran (unknown tool, bad params): still run it, so the
        // audit records the refused call. Never rejects: a transport always gets an answer.
        return this.runSteps(scope, req, undefined, () => Promise.reject(err)).catch((e: unknown) =>
          this.failure(e, req),
        );
      },
    );
  }

  private failure(err: unknown, req: JsonRpcRequest): JsonRpcResponse {
    const ge = asGatewayError(err);
    if (ge.kind === 'internal') this.log.error({ err, method: req.method }, 'relay failure');
    return ge.toJsonRpc(req.id);
  }

  private readonly routeHost: RouteHost;

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
    const headers = forwardHeaders(scope, this.cfg.auth.forwardIdentityHeader);
    // A stateless (2026) agent of a 2025 upstream is asked for input in input_required rounds, not by requests.
    // (A 2026 upstream asks in input_required results itself: those pass through unchanged.)
    if (!scope.session && INPUT_METHODS.has(req.method) && !t.upstream.modern) {
      return this.runSteps(
        scope,
        req,
        target,
        (call) =>
          forwardWithInput(
            this.inputDeps,
            scope,
            req,
            t.upstream,
            tracedParams(params, call),
            exchange,
            tracedHeaders(headers, call),
            call,
          ),
        { exchange, params },
      );
    }
    return this.runSteps(
      scope,
      req,
      target,
      (call) => {
        const sent = forward(
          scope,
          req,
          t.upstream,
          tracedParams(params, call),
          exchange,
          tracedHeaders(headers, call),
          call,
        );
        // Only completions are reshaped: other calls cost no extra promise here.
        return shape ? sent.then((res) => ('result' in res ? { ...res, result: shape(res.result) } : res)) : sent;
      },
      { exchange, params },
    );
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
    routed?: Pick<McpCall, 'exchange' | 'params'>,
  ): Promise<JsonRpcResponse> {
    const call: McpCall = { scope, request, target, ...routed };
    const run = (i: number): Promise<JsonRpcResponse> => {
      const step = this.steps[i];
      // Failures become responses here, so every step (the audit above all) sees an answer.
      return step ? step(call, () => run(i + 1)) : last(call).catch((err: unknown) => this.failure(err, request));
    };
    return run(0);
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
