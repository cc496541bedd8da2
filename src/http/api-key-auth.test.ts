import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { apiKeyAuth } from './api-key-auth.js';
import type { AppEnv } from './env.js';

const app = (opts: Parameters<typeof apiKeyAuth>[0]) => {
  const h = new Hono<AppEnv>();
  h.use('*', apiKeyAuth(opts));
  h.post('/mcp', (c) => c.json(c.get('agent')));
  return h;
};
const call = (h: Hono<AppEnv>, auth?: string) => h.request('/mcp', { method: 'POST', headers: auth ? { authorization: auth } : {} });

describe('apiKeyAuth', () => {
  const h = app({ keys: [{ agent: 'a', key: 'key-aaaaaaaa' }, { agent: 'b', key: 'key-bbbbbbbb' }], allowAnonymous: false });
  it('maps each key to its agent', async () => {
    expect(await (await call(h, 'Bearer key-aaaaaaaa')).json()).toEqual({ id: 'a', method: 'api_key' });
    expect(await (await call(h, 'Bearer key-bbbbbbbb')).json()).toEqual({ id: 'b', method: 'api_key' });
  });
  it('answers 401 with WWW-Authenticate and a JSON-RPC error for missing or wrong keys', async () => {
    for (const auth of [undefined, 'Bearer nope-nope-nope', 'Basic a2V5LWFhYWFhYWFh', 'Bearer key-aaaaaaa']) {
      const r = await call(h, auth);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await r.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32040 } });
    }
  });
  it('lets requests without a token through as "anonymous" only when allowed', async () => {
    const anon = app({ keys: [], allowAnonymous: true });
    expect(await (await call(anon)).json()).toEqual({ id: 'anonymous', method: 'anonymous' });
  });
  it('refuses to build with neither keys nor anonymous access', () => {
    expect(() => apiKeyAuth({ keys: [], allowAnonymous: false })).toThrow(/at least one api key/);
  });
});
