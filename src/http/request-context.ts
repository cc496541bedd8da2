// Request ids and W3C trace context: accepted from the agent when well-formed, made up otherwise,
// echoed back (by whoever makes the response: see echoHeaders), passed on to HTTP upstreams so one call can be followed across
// agent, gateway and server.
import { randomFillSync } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.js';
import { headerOf } from './node-io.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

// Random ids come from a pool: one randomFillSync per 170 requests, not two per request (measured
// on the relay's hot path).
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;
function randomHex(bytes: number): string {
  if (poolAt + bytes > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const hex = POOL.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

/** A child span of the agent's trace (same trace id, our own span id), or a new trace. */
export function childTraceparent(incoming: string | undefined): string {
  const m = incoming ? TRACEPARENT.exec(incoming) : null;
  const traceId = m && m[1] !== '0'.repeat(32) ? m[1] : randomHex(16);
  return `00-${traceId}-${randomHex(8)}-${m?.[3] ?? '01'}`;
}

/** The request id, for responses to carry (set when they are made: adding a header later is costly). */
export const echoHeaders = (c: Context<AppEnv>): Record<string, string> => {
  const id = c.get('requestId');
  return id ? { 'x-request-id': id } : {};
};

/** The agent's X-Request-Id when well-formed, else a new one (128 random bits as hex, from the pool). */
export const requestIdOf = (given: string | undefined): string =>
  given !== undefined && REQUEST_ID.test(given) ? given : randomHex(16);

export function requestContext(): MiddlewareHandler<AppEnv> {
  // Not async: passing a request on must not cost a promise of its own (hot path).
  return (c, next) => {
    const requestId = requestIdOf(headerOf(c, 'x-request-id'));
    c.set('requestId', requestId);
    c.set('traceparent', childTraceparent(headerOf(c, 'traceparent')));
    return next();
  };
}
