// Agent-facing Streamable HTTP (MCP 2025-03-26, 2025-06-18, 2025-11-25) on one endpoint:
// POST carries messages, GET opens the server-to-client stream (or resumes one), DELETE ends a session.
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Context } from 'hono';
import type { AppEnv } from '../http/env.js';
import { errorResponse, gatewayErrorResponse } from '../http/respond.js';
import { GatewayError, asGatewayError } from '../errors.js';
import type { ConnectionCap, Slot } from './connection-cap.js';
import { cutOf, headerOf, readBody } from '../http/node-io.js';
import type { Relay } from '../relay/relay.js';
import type { View } from '../relay/view.js';
import type { RequestScope } from '../relay/scope.js';
import type { AgentSession } from './agent-session.js';
import type { SessionStore } from './session-store.js';
import { PostExchange } from './post-exchange.js';
import { AGENT_JSON, parseBounded } from './json-shape.js';
import { declarationProblem, keptClientInfo } from './declarations.js';
import { classify } from './era.js';
import { echoHeaders } from '../http/request-context.js';
import { modernPost } from './modern.js';
import { placeSession } from '../relay/placement.js';
import { sseResponse } from './sse-response.js';
import { parseEventId } from './event-stream.js';
import {
  errorMessage,
  isObject,
  resultMessage,
  validateMessage,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
} from './jsonrpc.js';

export interface StreamableHttpDeps {
  relay: Relay;
  sessions: SessionStore;
  keepaliveMs: number;
  replayEvents: number;
  maxBodyBytes: number;
  /** Caps on SSE streams open to agents (also the metric). */
  streams: ConnectionCap;
  serverName: string;
  /** Several gateway instances serve one session: place it on replicas at initialize, sealed in its id. */
  sharedSessions: boolean;
}

type Ctx = Context<AppEnv>;

/** Batches were allowed only in 2025-03-26. */
const BATCH_VERSIONS = new Set(['2025-03-26']);

export function streamableHttp(deps: StreamableHttpDeps) {
  const { relay, sessions } = deps;
  const modern = modernPost({
    relay,
    keepaliveMs: deps.keepaliveMs,
    streams: deps.streams,
    serverName: deps.serverName,
    streamBounds: relay.streamBounds,
  });

  const viewOf = (c: Ctx): View | undefined => relay.view(c.req.param('server') ?? '');

  /**
   * The session named by Mcp-Session-Id, bound to this agent and endpoint; or an error response.
   * A session held here is found synchronously (no promise per request); only adoption awaits.
   */
  function sessionOf(c: Ctx, view: View): AgentSession | Response | Promise<AgentSession | Response> {
    const id = headerOf(c, 'mcp-session-id');
    if (!id) return errorResponse(c, 'session_required', 'Bad Request: Mcp-Session-Id header is required');
    const held = sessions.held(id);
    if (held !== null) return checkSession(c, view, held);
    return sessions.resolve(id, c.get('agent'), view.key).then((s) => checkSession(c, view, s));
  }

  function checkSession(c: Ctx, view: View, s: AgentSession | GatewayError | undefined): AgentSession | Response {
    if (s instanceof GatewayError) return gatewayErrorResponse(c, s);
    // A session of another agent or endpoint is as unknown to this caller as a made-up one.
    if (!s || s.agentId !== c.get('agent').id || s.viewKey !== view.key) {
      return errorResponse(c, 'session_not_found', 'Session not found');
    }
    // Agents send nothing but initialize before `initialized`; that notification may have reached
    // another gateway instance.
    s.initialized = true;
    const pv = headerOf(c, 'mcp-protocol-version');
    if (pv !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(pv)) {
      return errorResponse(
        c,
        'unsupported_protocol_version',
        `Bad Request: unsupported MCP-Protocol-Version ${pv} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
      );
    }
    return s;
  }

  async function post(c: Ctx): Promise<Response> {
    const view = viewOf(c);
    if (!view) return errorResponse(c, 'session_not_found', 'unknown MCP endpoint');
    const accept = headerOf(c, 'accept') ?? '';
    const jsonAt = accept.includes('application/json') ? accept.indexOf('application/json') : accept.indexOf('*/*');
    const sseAt = accept.indexOf('text/event-stream');
    const acceptsSse = sseAt >= 0;
    // JSON unless the client cannot take it or lists SSE first (it prefers streams).
    const acceptsJson = jsonAt >= 0 && !(acceptsSse && sseAt < jsonAt);
    if (jsonAt < 0 && !acceptsSse) {
      return errorResponse(
        c,
        'not_acceptable',
        'Not Acceptable: Accept must include application/json or text/event-stream',
      );
    }
    const type = headerOf(c, 'content-type') ?? '';
    if (!type.includes('application/json')) {
      return errorResponse(
        c,
        'unsupported_media_type',
        'Unsupported Media Type: Content-Type must be application/json',
      );
    }
    let text: string;
    try {
      text = await readBody(c, deps.maxBodyBytes);
    } catch (err) {
      return gatewayErrorResponse(c, asGatewayError(err));
    }
    // Shape bounds before the parse: one deep or key-heavy body must not stall the other agents.
    const parsed = parseBounded(text, AGENT_JSON);
    if ('shape' in parsed) return errorResponse(c, 'invalid_request', `Invalid Request: ${parsed.shape}`);
    if ('invalid' in parsed) return errorResponse(c, 'parse_error', 'Parse error: body is not valid JSON');
    const body = parsed.value;
    const batch = Array.isArray(body);
    const raw: unknown[] = batch ? (body as unknown[]) : [body];
    if (raw.length === 0) return errorResponse(c, 'invalid_request', 'Invalid Request: empty batch');
    const messages: JsonRpcMessage[] = [];
    for (const item of raw) {
      const m = validateMessage(item);
      if (typeof m === 'string')
        return errorResponse(
          c,
          'invalid_request',
          `Invalid Request: ${m}`,
          {},
          isObject(item) && (typeof item.id === 'string' || typeof item.id === 'number') ? item.id : null,
        );
      messages.push(m);
    }
    const first = messages[0] as JsonRpcMessage;
    const era = classify(messages, batch, headerOf(c, 'mcp-protocol-version'));
    if (era.era === 'invalid')
      return errorResponse(c, 'invalid_params', `Invalid Request: ${era.message}`, {}, 'id' in first ? first.id : null);
    if (era.era === '2026' && 'method' in first)
      return modern(c, view, first as JsonRpcRequest | JsonRpcNotification, era.version, era.meta, acceptsJson);
    if ('method' in first && first.method === 'initialize') {
      if (batch) return errorResponse(c, 'invalid_request', 'Invalid Request: initialize must not be batched');
      if (headerOf(c, 'mcp-session-id'))
        return errorResponse(c, 'invalid_request', 'Invalid Request: session already initialized');
      return initialize(c, view, first as JsonRpcRequest, acceptsJson);
    }
    const found = sessionOf(c, view);
    const session = found instanceof Promise ? await found : found;
    if (session instanceof Response) return session;
    if (batch && !BATCH_VERSIONS.has(session.protocolVersion)) {
      return errorResponse(
        c,
        'invalid_request',
        `Invalid Request: batches are not allowed in protocol version ${session.protocolVersion}`,
      );
    }
    const scope: RequestScope = relay.scopeFor(c.get('agent'), session, view, {
      requestId: c.get('requestId'),
      traceparent: c.get('traceparent'),
      http: c.get('telemetry'),
    });
    const requests: JsonRpcRequest[] = [];
    for (const m of messages) {
      if (!('method' in m)) void relay.handleResponse(scope, m);
      else if (!('id' in m)) relay.handleNotification(scope, m);
      else requests.push(m);
    }
    if (requests.length === 0) return c.body(null, 202);
    const slot = acceptsJson ? undefined : deps.streams.take(session.agentId);
    if (slot instanceof GatewayError) return gatewayErrorResponse(c, slot);
    const exchange = new PostExchange(session, {
      acceptsJson,
      keepaliveMs: deps.keepaliveMs,
      streams: deps.streams,
      agent: session.agentId,
      slot,
      headers: { 'mcp-session-id': session.id, ...echoHeaders(c) },
      batch,
      ids: requests.map((r) => r.id),
      cut: cutOf(c),
    });
    for (const r of requests) {
      if (r.method === 'initialize') {
        exchange.answer(errorMessage(r.id, { code: -32600, message: 'session already initialized' }));
        continue;
      }
      void relay.handleRequest(scope, r, exchange).then((res) => exchange.answer(res));
    }
    return exchange.response;
  }

  async function initialize(c: Ctx, view: View, req: JsonRpcRequest, acceptsJson: boolean): Promise<Response> {
    const agent = c.get('agent').id;
    // Refused before anything is recorded; `add` below enforces the cap for real.
    const full = sessions.refusal(agent) ?? (acceptsJson ? undefined : deps.streams.refusal(agent));
    if (full) return gatewayErrorResponse(c, full, req.id);
    const p = req.params ?? {};
    // Declarations are capped before anything keeps them (memory, the sealed id, the audit log).
    const declared =
      declarationProblem('clientInfo', p.clientInfo) ?? declarationProblem('capabilities', p.capabilities);
    if (declared) return errorResponse(c, 'invalid_params', `Invalid params: ${declared}`, {}, req.id);
    const version = relay.negotiateVersion(p.protocolVersion);
    const capabilities = isObject(p.capabilities) ? p.capabilities : {};
    const session = sessions.create({
      identity: c.get('agent'),
      viewKey: view.key,
      protocolVersion: version,
      clientInfo: keptClientInfo(p.clientInfo),
      capabilities,
      placement: deps.sharedSessions ? await placeSession(view, c.get('agent').id, capabilities) : undefined,
    });
    try {
      await relay.recordInitialize(relay.scopeFor(c.get('agent'), session, view), req.id);
    } catch {
      return errorResponse(c, 'internal', 'audit log unavailable: the session was not opened');
    }
    const refused = sessions.add(session);
    if (refused) return gatewayErrorResponse(c, refused, req.id);
    const slot = acceptsJson ? undefined : deps.streams.force(agent);
    const exchange = new PostExchange(session, {
      acceptsJson,
      keepaliveMs: deps.keepaliveMs,
      streams: deps.streams,
      agent,
      slot,
      headers: { 'mcp-session-id': session.id, ...echoHeaders(c) },
      batch: false,
      ids: [req.id],
      cut: cutOf(c),
    });
    exchange.answer(resultMessage(req.id, relay.initializeResult(view, version)));
    return exchange.response;
  }

  async function get(c: Ctx): Promise<Response> {
    const view = viewOf(c);
    if (!view) return errorResponse(c, 'session_not_found', 'unknown MCP endpoint');
    if (!(headerOf(c, 'accept') ?? '').includes('text/event-stream')) {
      return errorResponse(c, 'not_acceptable', 'Not Acceptable: GET requires Accept: text/event-stream');
    }
    const session = await sessionOf(c, view);
    if (session instanceof Response) return session;
    const headers = { 'mcp-session-id': session.id, ...echoHeaders(c) };
    const last = headerOf(c, 'last-event-id');
    const at = last ? parseEventId(last) : undefined;
    const resumed = at && session.streams.get(at.streamId);
    if (!resumed && session.hasStandaloneListener) {
      return errorResponse(c, 'conflict', 'Conflict: only one standalone SSE stream is allowed per session');
    }
    const slot: Slot | GatewayError = deps.streams.take(session.agentId);
    if (slot instanceof GatewayError) return gatewayErrorResponse(c, slot);
    const cut = cutOf(c);
    if (resumed) return sseResponse(resumed, { keepaliveMs: deps.keepaliveMs, headers, afterSeq: at.seq, slot, cut });
    return sseResponse(session.standaloneStream(), {
      keepaliveMs: deps.keepaliveMs,
      headers,
      afterSeq: last ? 0 : undefined,
      slot,
      cut,
    });
  }

  async function del(c: Ctx): Promise<Response> {
    const view = viewOf(c);
    if (!view) return errorResponse(c, 'session_not_found', 'unknown MCP endpoint');
    const session = await sessionOf(c, view);
    if (session instanceof Response) return session;
    sessions.end(session.id, true);
    return c.body(null, 200);
  }

  function other(c: Ctx): Response {
    return errorResponse(c, 'method_not_allowed', 'Method Not Allowed', { allow: 'GET, POST, DELETE' });
  }

  return { post, get, delete: del, other };
}
