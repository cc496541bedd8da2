// CORS for agents that run in a browser page (MCP Inspector's direct connection, web chat clients):
// without it the browser blocks the preflight of a POST with Authorization, and hides Mcp-Session-Id
// and WWW-Authenticate (how the client keeps its session and finds where to log in).
//
// Runs after the Host/Origin guard, so only origins it admits get here: the configured
// `server.allowed_origins`, the public URL's own origin, and loopback pages. Credentials are bearer
// tokens the page sends itself, never cookies, so no Access-Control-Allow-Credentials.
import type { MiddlewareHandler } from 'hono';
import { headerOf } from './node-io.js';

export interface AgentCorsOptions {
  /** Methods a page may use (the routes' own). */
  methods: readonly string[];
  /** How long a browser may keep a preflight's answer (seconds). */
  maxAgeSeconds: number;
}

/**
 * Request headers an MCP or LLM client sends: MCP's own, credentials, body type, trace context, and
 * what the OpenAI and Anthropic SDKs add in a browser (the gateway ignores those).
 */
const ALLOWED_HEADERS = [
  'authorization',
  'x-api-key',
  'anthropic-version',
  'anthropic-beta',
  'anthropic-dangerous-direct-browser-access',
  'openai-organization',
  'openai-project',
  'openai-beta',
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
  'x-request-id',
  'traceparent',
  'tracestate',
];

/**
 * `Mcp-Param-<name>` headers (2026) mirror tool arguments: their names are the tool's to choose. The
 * OpenAI and Anthropic SDKs name their platform (`X-Stainless-OS`, `X-Stainless-Retry-Count`, …).
 */
const OPEN_ENDED = /^(mcp-param-[a-z0-9_.-]{1,64}|x-stainless-[a-z0-9-]{1,64})$/;

/** Response headers a page must be able to read. */
const EXPOSED_HEADERS = [
  'mcp-session-id',
  'mcp-protocol-version',
  'www-authenticate',
  'x-request-id',
  'retry-after',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
].join(', ');

/** At most this many headers named in one preflight (a page asks for a handful). */
const MAX_REQUESTED_HEADERS = 64;

/** The requested headers this gateway takes, lower-cased, or undefined when one is not among them. */
function allowedRequestHeaders(requested: string | undefined): string | undefined {
  if (!requested) return '';
  const names = requested.split(',', MAX_REQUESTED_HEADERS + 1).map((h) => h.trim().toLowerCase());
  if (names.length > MAX_REQUESTED_HEADERS) return undefined;
  for (const n of names) if (n !== '' && !ALLOWED_HEADERS.includes(n) && !OPEN_ENDED.test(n)) return undefined;
  return names.filter((n) => n !== '').join(', ');
}

export function agentCors(opts: AgentCorsOptions): MiddlewareHandler {
  if (opts.methods.length === 0) throw new Error('agentCors: methods must not be empty');
  if (!Number.isInteger(opts.maxAgeSeconds) || opts.maxAgeSeconds < 0)
    throw new Error('agentCors: maxAgeSeconds must be a non-negative integer');
  const methods = opts.methods.join(', ');
  const maxAge = String(opts.maxAgeSeconds);
  return async (c, next) => {
    const origin = headerOf(c, 'origin');
    if (origin === undefined) return next(); // not a browser page: nothing to say
    const preflight = c.req.method === 'OPTIONS' && headerOf(c, 'access-control-request-method') !== undefined;
    if (preflight) {
      const headers = allowedRequestHeaders(headerOf(c, 'access-control-request-headers'));
      const vary = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
      // A header this gateway does not take: no CORS answer, so the browser does not send the request.
      if (headers === undefined) return c.body(null, 204, { vary });
      return c.body(null, 204, {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': methods,
        ...(headers && { 'access-control-allow-headers': headers }),
        'access-control-max-age': maxAge,
        vary,
      });
    }
    await next();
    c.res.headers.set('access-control-allow-origin', origin);
    c.res.headers.set('access-control-expose-headers', EXPOSED_HEADERS);
    c.res.headers.append('vary', 'Origin');
  };
}
