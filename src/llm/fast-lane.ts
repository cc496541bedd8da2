// The /v1 fast lane: a POST to one of the LLM endpoints, with a Content-Length within the cap and a
// credential an authenticator accepts, served on node:http's request and response directly, after
// the same HTTP steps as the Hono routes (src/app.ts): Host/Origin guard, body cap, authentication.
// Everything else goes to Hono before anything is decided here (errors, refusals of those steps,
// unknown routes, chunked bodies, a query string), so each answer keeps one implementation. The call
// itself is the same code either way (LlmProxy.serve); only its answer is written differently
// (answer.ts). Why: Hono's context, its adapter's Request and Response objects, a promise per
// middleware and, for streams, a web ReadableStream cost ~20 µs of CPU per completion (measured,
// docs/benchmark-history.md), as they did on /mcp (src/mcp/fast-post.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator, AgentIdentity } from '../auth/identity.js';
import { identify } from '../auth/identify.js';
import { bearerToken } from '../http/authenticate.js';
import { GatewayError } from '../errors.js';
import { writeAnswer } from './answer.js';
import type { LlmProxy, Op } from './proxy.js';
import { readIncoming } from './request-body.js';
import type { ApiKind } from './runtime.js';

export interface LlmLaneOptions {
  proxy: LlmProxy;
  /** originCheck (src/http/origin-guard.ts): why Origin or Host is refused, or undefined. */
  originProblem: (origin: string | undefined, host: string | undefined) => string | undefined;
  /** The LLM API's body cap (llm.max_body_bytes). */
  maxBodyBytes: number;
  authenticators: readonly Authenticator[];
  /** auth.allow_anonymous: a request with no credential at all is the agent `anonymous`. */
  allowAnonymous: boolean;
  /** Told of an error nothing else caught (logged, as the app's onError does). */
  onError: (err: unknown) => void;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;
type Route = { kind: ApiKind; op: Op; path: string };

// The routes of routes.ts that call an upstream, by exact request target.
const ROUTES = new Map<string, Route>([
  ['/v1/chat/completions', { kind: 'openai', op: 'chat', path: '/chat/completions' }],
  ['/v1/embeddings', { kind: 'openai', op: 'embeddings', path: '/embeddings' }],
  ['/v1/messages', { kind: 'anthropic', op: 'chat', path: '/v1/messages' }],
]);

/** Wraps `next` (the app's listener, or another lane in front of it) with the /v1 fast lane. */
export function llmFastLane(opts: LlmLaneOptions, next: Listener): Listener {
  if (!Number.isInteger(opts.maxBodyBytes) || opts.maxBodyBytes <= 0)
    throw new Error('llmFastLane: maxBodyBytes must be a positive integer');

  /** The route and credential when the headers alone say the request is the common case. */
  function candidate(req: IncomingMessage): { route: Route; token: string | undefined } | undefined {
    if (req.method !== 'POST' || req.url === undefined) return undefined;
    const route = ROUTES.get(req.url);
    if (!route) return undefined;
    const h = req.headers;
    if (h['transfer-encoding'] !== undefined) return undefined;
    const length = h['content-length'];
    if (length === undefined || !/^\d{1,12}$/.test(length) || Number(length) > opts.maxBodyBytes) return undefined;
    // A browser page (any Origin) gets its CORS headers from the Hono route (src/http/cors.ts).
    if (h.origin !== undefined || opts.originProblem(undefined, h.host) !== undefined) return undefined;
    // As authenticate() reads it: Authorization, else (Anthropic's clients) X-Api-Key.
    const auth = h.authorization;
    const apiKey = h['x-api-key'];
    const token = bearerToken(auth, auth === undefined && typeof apiKey === 'string' ? apiKey : undefined);
    if (!token && !(opts.allowAnonymous && auth === undefined && apiKey === undefined)) return undefined;
    return { route, token };
  }

  function serve(req: IncomingMessage, res: ServerResponse, route: Route, agent: AgentIdentity | undefined): void {
    if (!agent) return next(req, res);
    const call = { agent, http: undefined, headers: req.headers, body: readIncoming(req, opts.maxBodyBytes) };
    void opts.proxy
      .serve(call, route.kind, route.op, route.path)
      .then((answer) => writeAnswer(res, answer, opts.onError))
      .catch((e: unknown) => failed(res, e));
  }

  function failed(res: ServerResponse, e: unknown): void {
    opts.onError(e);
    // As the app's onError answers (serve itself never rejects; this is a bug's last stop).
    const err = new GatewayError('internal', 'internal gateway error');
    if (!res.headersSent) res.writeHead(err.httpStatus, { 'content-type': 'application/json' });
    res.end(JSON.stringify(err.toJsonRpc(null)));
  }

  return (req, res) => {
    const c = candidate(req);
    if (!c) return next(req, res);
    try {
      if (c.token === undefined)
        return serve(req, res, c.route, { id: 'anonymous', method: 'anonymous', scopes: [], claims: {} });
      const found = identify(opts.authenticators, c.token, req.url as string);
      if (found instanceof Promise)
        found.then((agent) => serve(req, res, c.route, agent)).catch((e: unknown) => failed(res, e));
      else serve(req, res, c.route, found);
    } catch (e) {
      failed(res, e);
    }
  };
}
