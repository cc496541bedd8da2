// POST /messages?sessionId= finds sessions in the same store as /mcp: a Streamable HTTP session's id
// there must meet sessions.max_age as it does on /mcp, not reach the relay past it.
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentIdentity } from '../auth/identity.js';
import type { AppEnv } from '../http/env.js';
import type { Relay } from '../relay/relay.js';
import { ConnectionCap } from './connection-cap.js';
import { legacySse } from './legacy-sse.js';
import { SessionSealer } from './session-seal.js';
import { SessionStore } from './session-store.js';

const HOUR = 3600_000;
const alice: AgentIdentity = { id: 'alice', method: 'api_key', scopes: [], claims: {} };

afterEach(() => vi.useRealTimers());

function setup() {
  const sessions = new SessionStore({
    idleMs: 24 * HOUR,
    maxAgeMs: HOUR,
    replayEvents: 10,
    sealer: new SessionSealer([randomBytes(32)], HOUR),
    bus: undefined,
    cap: new ConnectionCap('sessions', 100, 100),
    onEnd: () => undefined,
  });
  const relayed: string[] = [];
  const relay = {
    view: () => ({}),
    scopeFor: () => ({}),
    handleRequest: async (_scope: unknown, m: { id: number; method: string }) => {
      relayed.push(m.method);
      return { jsonrpc: '2.0', id: m.id, result: {} };
    },
    handleNotification: () => undefined,
    handleResponse: () => undefined,
  } as unknown as Relay;
  const sse = legacySse({
    relay,
    sessions,
    keepaliveMs: 15_000,
    messagesPath: '/messages',
    maxBodyBytes: 1 << 20,
    streams: new ConnectionCap('sse streams', 100, 100),
  });
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set('agent', alice);
    c.set('requestId', 'r');
    c.set('traceparent', '');
    await next();
  });
  app.post('/messages', (c) => sse.message(c));
  const post = (id: string) =>
    app.request(`/messages?sessionId=${encodeURIComponent(id)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
  return { sessions, post, relayed };
}

describe('POST /messages into a Streamable HTTP session', () => {
  it('is refused (404) once the session is older than sessions.max_age', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 0, 1));
    const t = setup();
    const session = t.sessions.create({
      identity: alice,
      viewKey: '',
      protocolVersion: '2025-11-25',
      clientInfo: { name: 't' },
      capabilities: {},
      placement: undefined,
    });
    expect(t.sessions.add(session)).toBeUndefined();
    vi.setSystemTime(Date.UTC(2026, 0, 1) + HOUR - 1000);
    expect((await t.post(session.id)).status).toBe(202);
    expect(t.relayed).toEqual(['ping']);
    vi.setSystemTime(Date.UTC(2026, 0, 1) + HOUR + 1000);
    expect((await t.post(session.id)).status).toBe(404);
    expect(t.relayed).toEqual(['ping']); // nothing more reached the relay
    expect(t.sessions.peek(session.id)).toBeUndefined(); // and the expired session is ended
    t.sessions.close();
  });
});
