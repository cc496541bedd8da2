// Request ids and W3C trace context: accepted from the agent when well-formed, made up otherwise,
// echoed back, written to logs and passed on to HTTP upstreams so one call can be followed across
// agent, gateway and server.
import { randomBytes, randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.js';
import { headerOf } from './node-io.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A child span of the agent's trace (same trace id, our own span id), or a new trace. */
export function childTraceparent(incoming: string | undefined): string {
  const m = incoming ? TRACEPARENT.exec(incoming) : null;
  const traceId = m && m[1] !== '0'.repeat(32) ? m[1] : randomBytes(16).toString('hex');
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${m?.[3] ?? '01'}`;
}

export function requestContext(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const given = headerOf(c, 'x-request-id');
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    c.set('requestId', requestId);
    c.set('traceparent', childTraceparent(headerOf(c, 'traceparent')));
    await next();
    c.header('x-request-id', requestId);
  };
}
