// The /mcp fast lane: the common request — one JSON-RPC request on a session this instance holds,
// answered in JSON — served on node:http's request and response directly, with the same HTTP steps
// in the same order as the Hono routes (src/app.ts): request id and trace context, Host/Origin
// guard, body cap, authentication. Everything else goes to Hono, before anything is decided here
// or, once the body is read, with the body handed on (holdBody): errors, initialize, batches,
// notifications, 2026 requests and sessions held elsewhere keep exactly one implementation.
// Why: Hono's context, its adapter's Request and Response objects and a promise per middleware are
// ~10 µs of CPU per call (measured against a bare relay); see docs/benchmark-history.md.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Authenticator, AgentIdentity } from '../auth/identity.js';
import { identify } from '../auth/identify.js';
import { bearerToken } from '../http/authenticate.js';
import { GatewayError } from '../errors.js';
import { holdBody, readCapped } from '../http/node-io.js';
import { childTraceparent, requestIdOf } from '../http/request-context.js';
import { writeResponse } from '../http/write-response.js';
import type { Relay } from '../relay/relay.js';
import type { View } from '../relay/view.js';
import type { AgentSession } from './agent-session.js';
import type { ConnectionCap } from './connection-cap.js';
import { classify } from './era.js';
import { AGENT_JSON, parseBounded } from './json-shape.js';
import { validateMessage, type JsonRpcRequest } from './jsonrpc.js';
import { PostExchange } from './post-exchange.js';
import type { SessionStore } from './session-store.js';

export interface FastPostOptions {
  relay: Relay;
  sessions: SessionStore;
  /** originCheck (src/http/origin-guard.ts): why Origin or Host is refused, or undefined. */
  originProblem: (origin: string | undefined, host: string | undefined) => string | undefined;
  maxBodyBytes: number;
  authenticators: readonly Authenticator[];
  keepaliveMs: number;
  streams: ConnectionCap;
  /** Told of an error nothing else caught (logged, as the app's onError does). */
  onError: (err: unknown) => void;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;
type Candidate = { path: string; server: string; token: string };

/** `/mcp` or `/mcp/<server>` with a plain server name (anything encoded or odd goes to Hono). */
const MCP_PATH = /^\/mcp(?:\/([A-Za-z0-9_.-]+))?$/;

/** Whether the agent takes JSON and does not list SSE first (as the Hono route decides). */
function prefersJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const json = accept.indexOf('application/json');
  const sse = accept.indexOf('text/event-stream');
  return json >= 0 && !(sse >= 0 && sse < json);
}

/** Wraps `hono` (the app's listener) with the fast lane. */
export function fastPost(opts: FastPostOptions, hono: Listener): Listener {
  if (!Number.isInteger(opts.maxBodyBytes) || opts.maxBodyBytes <= 0)
    throw new Error('fastPost: maxBodyBytes must be a positive integer');

  /** The path and token when the headers alone say the request is the common case. */
  function candidate(req: IncomingMessage): Candidate | undefined {
    if (req.method !== 'POST' || req.url === undefined) return undefined;
    const m = MCP_PATH.exec(req.url);
    if (!m) return undefined;
    const h = req.headers;
    if (typeof h['mcp-session-id'] !== 'string' || h['transfer-encoding'] !== undefined) return undefined;
    const length = h['content-length'];
    if (length === undefined || !/^\d{1,12}$/.test(length) || Number(length) > opts.maxBodyBytes) return undefined;
    if (!h['content-type']?.includes('application/json') || !prefersJson(h.accept)) return undefined;
    const pv = h['mcp-protocol-version'];
    if (typeof pv === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(pv)) return undefined;
    // A browser page (any Origin) gets its CORS headers from the Hono route (src/http/cors.ts).
    if (h.origin !== undefined || opts.originProblem(undefined, h.host) !== undefined) return undefined;
    const auth = h.authorization;
    const token = auth === undefined ? undefined : bearerToken(auth, undefined);
    if (!token) return undefined;
    return { path: req.url, server: m[1] ?? '', token };
  }

  // serve, admitted and relayed are plain functions, a promise only where a step waits (the body,
  // an authenticator that fetches): an async function per step cost promises and microtask turns
  // per call (docs/benchmark-history.md, session 8).
  function serve(req: IncomingMessage, res: ServerResponse, c: Candidate): void | Promise<void> {
    const found = identify(opts.authenticators, c.token, c.path);
    if (found instanceof Promise) return found.then((identity) => admitted(req, res, c, identity));
    return admitted(req, res, c, found);
  }

  function admitted(
    req: IncomingMessage,
    res: ServerResponse,
    c: Candidate,
    identity: AgentIdentity | undefined,
  ): void | Promise<void> {
    const view = opts.relay.view(c.server);
    const session = identity && view ? opts.sessions.held(req.headers['mcp-session-id'] as string) : undefined;
    if (!identity || !view || !session || session.agentId !== identity.id || session.viewKey !== view.key)
      return hono(req, res);
    return readCapped(req, opts.maxBodyBytes).then(
      (text) => relayed(req, res, identity, view, session, text),
      () => void res.destroy(), // the body broke off (Content-Length was within the cap)
    );
  }

  function relayed(
    req: IncomingMessage,
    res: ServerResponse,
    identity: AgentIdentity,
    view: View,
    session: AgentSession,
    text: string,
  ): void {
    const parsed = parseBounded(text, AGENT_JSON);
    const msg = 'value' in parsed ? validateMessage(parsed.value) : undefined;
    if (
      msg === undefined ||
      typeof msg === 'string' ||
      !('method' in msg && 'id' in msg) ||
      msg.method === 'initialize' ||
      classify([msg], false, req.headers['mcp-protocol-version'] as string | undefined).era !== '2025'
    ) {
      holdBody(req, text);
      return hono(req, res);
    }
    // What the Hono route does for a session found here (see streamable-http.ts checkSession).
    session.initialized = true;
    const requestId = requestIdOf(req.headers['x-request-id'] as string | undefined);
    const scope = opts.relay.scopeFor(identity, session, view, {
      requestId,
      traceparent: childTraceparent(req.headers.traceparent as string | undefined),
      http: undefined,
    });
    const exchange = new PostExchange(session, {
      acceptsJson: true,
      keepaliveMs: opts.keepaliveMs,
      streams: opts.streams,
      agent: session.agentId,
      headers: { 'mcp-session-id': session.id, 'x-request-id': requestId },
      batch: false,
      ids: [(msg as JsonRpcRequest).id],
      cut: () => res.destroy(),
      plain: (status, headers, body) => {
        headers['content-length'] = String(Buffer.byteLength(body));
        res.writeHead(status, headers);
        res.end(body);
      },
      // Progress or a question for the agent before the answer: the exchange turns into SSE.
      streamed: (r) => void writeResponse(res, r).catch(opts.onError),
    });
    void opts.relay.handleRequest(scope, msg as JsonRpcRequest, exchange).then((r) => exchange.answer(r));
  }

  return (req, res) => {
    const c = candidate(req);
    if (!c) return hono(req, res);
    const failed = (e: unknown): void => {
      opts.onError(e);
      // As the app's onError answers (the relay itself never rejects; this is a bug's last stop).
      const err = new GatewayError('internal', 'internal gateway error');
      if (!res.headersSent) res.writeHead(err.httpStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify(err.toJsonRpc(null)));
    };
    try {
      serve(req, res, c)?.catch(failed);
    } catch (e) {
      failed(e);
    }
  };
}
