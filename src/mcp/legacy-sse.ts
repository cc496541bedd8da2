// The 2024-11-05 HTTP+SSE transport for old clients: GET /sse opens the stream and announces
// where to POST; every answer goes down the stream.
import type { Context } from 'hono';
import type { AppEnv } from '../http/env.js';
import { errorResponse, gatewayErrorResponse } from '../http/respond.js';
import { GatewayError, asGatewayError } from '../errors.js';
import { AGENT_JSON, parseBounded } from './json-shape.js';
import { declarationProblem, keptClientInfo } from './declarations.js';
import type { ConnectionCap } from './connection-cap.js';
import { cutOf, readBody } from '../http/node-io.js';
import type { Relay } from '../relay/relay.js';
import type { Exchange, RequestScope } from '../relay/scope.js';
import { AgentSession } from './agent-session.js';
import type { SessionStore } from './session-store.js';
import { sseResponse } from './sse-response.js';
import { errorMessage, isObject, resultMessage, validateMessage, type JsonRpcMessage } from './jsonrpc.js';

type Ctx = Context<AppEnv>;

export function legacySse(deps: {
  relay: Relay;
  sessions: SessionStore;
  keepaliveMs: number;
  messagesPath: string;
  maxBodyBytes: number;
  streams: ConnectionCap;
}) {
  const { relay, sessions } = deps;

  function open(c: Ctx): Response {
    const viewKey = c.req.param('server') ?? '';
    if (!relay.view(viewKey)) return errorResponse(c, 'session_not_found', 'unknown MCP endpoint');
    const slot = deps.streams.take(c.get('agent').id);
    if (slot instanceof GatewayError) return gatewayErrorResponse(c, slot);
    const session = new AgentSession(c.get('agent'), viewKey, '2024-11-05', {}, {}, 0);
    session.streamBounds = relay.streamBounds;
    session.serverRequestLimits = relay.serverRequestLimits;
    const refused = sessions.add(session);
    if (refused) {
      slot.release();
      return gatewayErrorResponse(c, refused);
    }
    const stream = session.standaloneStream();
    return sseResponse(stream, {
      keepaliveMs: deps.keepaliveMs,
      slot,
      onOpen: (sink) => sink.write(`event: endpoint\ndata: ${deps.messagesPath}?sessionId=${session.id}\n\n`),
      // The session lives as long as its connection: a reconnecting client gets a new one.
      onCancel: () => sessions.end(session.id),
      cut: cutOf(c),
    });
  }

  /**
   * The endpoint a `POST /messages` is authenticated for: the `/sse` or `/sse/<server>` its session's
   * stream was opened on, so a token bound to `/mcp/<server>` may post into that server's session and
   * into no other (its path names no server). Unknown sessions keep `/messages` (the /mcp resource
   * only); `message` answers them 404 after authentication.
   */
  function resourcePath(c: Ctx): string {
    const id = c.req.query('sessionId');
    const session = id ? sessions.peek(id) : undefined;
    if (!session) return c.req.path;
    return session.viewKey === '' ? '/sse' : `/sse/${encodeURIComponent(session.viewKey)}`;
  }

  async function message(c: Ctx): Promise<Response> {
    const id = c.req.query('sessionId');
    // held, not peek: sessions.max_age holds here as on /mcp (a Streamable HTTP session's id may be
    // posted here too), and an expired session is ended rather than served.
    const session = id ? (sessions.held(id) ?? undefined) : undefined;
    if (!session || session.agentId !== c.get('agent').id)
      return errorResponse(c, 'session_not_found', 'Session not found');
    const view = relay.view(session.viewKey);
    if (!view) return errorResponse(c, 'session_not_found', 'Session not found');
    let text: string;
    try {
      text = await readBody(c, deps.maxBodyBytes);
    } catch (err) {
      return gatewayErrorResponse(c, asGatewayError(err));
    }
    const parsed = parseBounded(text, AGENT_JSON);
    if ('shape' in parsed) return errorResponse(c, 'invalid_request', `Invalid Request: ${parsed.shape}`);
    if ('invalid' in parsed) return errorResponse(c, 'parse_error', 'Parse error: body is not valid JSON');
    const m = validateMessage(parsed.value);
    if (typeof m === 'string') return errorResponse(c, 'invalid_request', `Invalid Request: ${m}`);
    const scope: RequestScope = relay.scopeFor(c.get('agent'), session, view, {
      requestId: c.get('requestId'),
      traceparent: c.get('traceparent'),
      http: c.get('telemetry'),
    });
    dispatch(scope, session, m);
    return c.text('Accepted', 202);
  }

  function dispatch(scope: RequestScope, session: AgentSession, m: JsonRpcMessage): void {
    if (!('method' in m)) return void relay.handleResponse(scope, m);
    if (!('id' in m)) return relay.handleNotification(scope, m);
    if (m.method === 'initialize') {
      const p = m.params ?? {};
      const declared =
        declarationProblem('clientInfo', p.clientInfo) ?? declarationProblem('capabilities', p.capabilities);
      if (declared) return session.send(errorMessage(m.id, { code: -32602, message: `Invalid params: ${declared}` }));
      session.protocolVersion = relay.negotiateVersion(p.protocolVersion);
      session.clientInfo = keptClientInfo(p.clientInfo);
      session.capabilities = isObject(p.capabilities) ? p.capabilities : {};
      scope.capabilities = session.capabilities;
      const result = resultMessage(m.id, relay.initializeResult(scope.view, session.protocolVersion));
      void relay.recordInitialize(scope, m.id).then(
        () => session.send(result),
        () => session.send(errorMessage(m.id, { code: -32603, message: 'audit log unavailable' })),
      );
      return;
    }
    const exchange: Exchange = { emit: (msg) => session.send(msg) };
    void relay.handleRequest(scope, m, exchange).then((res) => session.send(res));
  }

  return { open, message, resourcePath };
}
