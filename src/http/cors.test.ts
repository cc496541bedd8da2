import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { agentCors } from './cors.js';

function app(): Hono {
  const a = new Hono();
  a.use('/mcp', agentCors({ methods: ['GET', 'POST', 'DELETE'], maxAgeSeconds: 600 }));
  a.post('/mcp', (c) => c.json({ ok: true }, 200, { 'mcp-session-id': 'abc' }));
  a.get('/mcp', (c) => c.text('unauthorized', 401, { 'www-authenticate': 'Bearer resource_metadata="x"' }));
  return a;
}

const preflight = (headers: Record<string, string>) =>
  app().request('/mcp', {
    method: 'OPTIONS',
    headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST', ...headers },
  });

describe('agentCors', () => {
  it('answers a preflight for MCP headers without running the route (no credentials needed)', async () => {
    const r = await preflight({
      'access-control-request-headers':
        'Authorization, Content-Type, Mcp-Session-Id, mcp-protocol-version, mcp-param-region',
    });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
    expect(r.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE');
    expect(r.headers.get('access-control-allow-headers')).toBe(
      'authorization, content-type, mcp-session-id, mcp-protocol-version, mcp-param-region',
    );
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('gives no CORS answer to a preflight asking for a header the gateway does not take', async () => {
    for (const asked of ['authorization, cookie', `x-${'a'.repeat(10)}`, Array(65).fill('accept').join(',')]) {
      const r = await preflight({ 'access-control-request-headers': asked });
      expect(r.status).toBe(204);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('lets the page read the session id and the login challenge', async () => {
    const post = await app().request('/mcp', { method: 'POST', headers: { origin: 'http://localhost:6274' } });
    expect(post.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
    expect(post.headers.get('access-control-expose-headers')).toContain('mcp-session-id');
    expect(post.headers.get('vary')).toContain('Origin');
    const get = await app().request('/mcp', { headers: { origin: 'http://localhost:6274' } });
    expect(get.status).toBe(401);
    expect(get.headers.get('access-control-expose-headers')).toContain('www-authenticate');
  });

  it('adds nothing for clients that are not browser pages', async () => {
    const r = await app().request('/mcp', { method: 'POST' });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    expect(r.headers.get('access-control-expose-headers')).toBeNull();
  });

  it('refuses options it cannot use', () => {
    expect(() => agentCors({ methods: [], maxAgeSeconds: 1 })).toThrow(/methods/);
    expect(() => agentCors({ methods: ['GET'], maxAgeSeconds: -1 })).toThrow(/maxAgeSeconds/);
  });
});
