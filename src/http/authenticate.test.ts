import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { authenticate } from './authenticate.js';
import type { AppEnv } from './env.js';
import type { Authenticator } from '../auth/identity.js';

const keys: Authenticator = {
  name: 'test',
  authenticate: (t) =>
    t === 'good'
      ? { ok: true, identity: { id: 'a', method: 'api_key', scopes: [], claims: {} } }
      : t === 'narrow'
        ? { ok: false, error: 'insufficient_scope', scope: 'mcp', description: 'needs mcp' }
        : t.startsWith('other')
          ? undefined
          : { ok: false, error: 'invalid_token', description: 'unknown API key' },
};
const app = (allowAnonymous = false) => {
  const h = new Hono<AppEnv>();
  h.use(
    '*',
    authenticate({
      authenticators: [keys],
      allowAnonymous,
      resourceMetadataUrl: () => 'https://gw/.well-known/oauth-protected-resource/mcp',
    }),
  );
  h.post('/mcp', (c) => c.json(c.get('agent')));
  return h;
};
const call = (h: Hono<AppEnv>, auth?: string) =>
  h.request('/mcp', { method: 'POST', headers: auth ? { authorization: auth } : {} });

describe('authenticate', () => {
  it('sets the identity for a valid token', async () => {
    expect(await (await call(app(), 'Bearer good')).json()).toMatchObject({ id: 'a', method: 'api_key' });
  });
  it('answers 401 with a resource_metadata challenge, and the RFC 6750 error for a bad token', async () => {
    const none = await call(app());
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(
      'Bearer resource_metadata="https://gw/.well-known/oauth-protected-resource/mcp"',
    );
    const bad = await call(app(), 'Bearer nope');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/error="invalid_token", error_description="unknown API key"/);
    expect(await bad.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32040 } });
    expect((await call(app(), 'Bearer other-kind')).status).toBe(401); // no authenticator claimed it
    expect((await call(app(), 'Basic Zm9vOmJhcg==')).status).toBe(401);
  });
  it('answers 403 insufficient_scope with the scope needed', async () => {
    const r = await call(app(), 'Bearer narrow');
    expect(r.status).toBe(403);
    expect(r.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="mcp"/);
  });
  it('admits requests without credentials as "anonymous" only when allowed', async () => {
    expect(await (await call(app(true))).json()).toMatchObject({ id: 'anonymous', method: 'anonymous' });
    expect((await call(app(true), 'Bearer nope')).status).toBe(401); // a bad token is never anonymous
  });
  it('refuses to build with no way to authenticate', () => {
    expect(() => authenticate({ authenticators: [], allowAnonymous: false, resourceMetadataUrl: () => '' })).toThrow(
      /allow_anonymous/,
    );
  });
});
