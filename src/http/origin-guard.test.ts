import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { originGuard } from './origin-guard.js';

const app = (opts: Parameters<typeof originGuard>[0]) => {
  const h = new Hono();
  h.use('*', originGuard(opts));
  h.post('/mcp', (c) => c.text('ok'));
  return h;
};
const req = (h: Hono, headers: Record<string, string>) => h.request('/mcp', { method: 'POST', headers });

describe('originGuard', () => {
  it('by default accepts loopback Hosts and Origins on any port, and no Origin at all', async () => {
    const h = app({});
    expect((await req(h, { host: '127.0.0.1:8080' })).status).toBe(200);
    expect((await req(h, { host: 'localhost:1234', origin: 'http://localhost:1234' })).status).toBe(200);
    expect((await req(h, { host: '[::1]:80', origin: 'http://[::1]:80' })).status).toBe(200);
  });
  it('rejects a rebinding attempt with 403 and a JSON-RPC error', async () => {
    const h = app({});
    const r = await req(h, { host: 'evil.example.com:8080', origin: 'http://evil.example.com:8080' });
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
    expect((await req(h, { host: '127.0.0.1:8080', origin: 'http://evil.example.com' })).status).toBe(403);
  });
  it('accepts configured names and the public URL', async () => {
    const h = app({ allowedOrigins: ['https://app.example.com'], publicUrl: 'https://mcp.example.com' });
    expect((await req(h, { host: 'mcp.example.com', origin: 'https://app.example.com' })).status).toBe(200);
    expect((await req(h, { host: 'mcp.example.com', origin: 'https://mcp.example.com' })).status).toBe(200);
    expect((await req(h, { host: 'other.example.com' })).status).toBe(403);
  });
  it('refuses a malformed allowed origin when built', () => {
    expect(() => originGuard({ allowedOrigins: ['app.example.com/path'] })).toThrow(/must look like/);
  });
});
