// Agent authentication through the gateway: JWT from a JWKS, API keys, and the MCP authorization
// discovery documents (RFC 9728) that clients follow when they get a 401.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { startJwksServer, type JwksServer } from '../fixtures/jwks-server.js';

const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;
const ISSUER = 'https://idp.test';
const RESOURCE = 'https://mcp.example.com/mcp';
let jwks: JwksServer;
let gw: TestGateway;
let feat: Spawned;
let sign: (claims: Record<string, unknown>, opts?: { aud?: string; exp?: string }) => Promise<string>;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = await startJwksServer({ keys: [jwk] });
  sign = (claims, opts = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(opts.aud ?? RESOURCE)
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(privateKey);
  feat = await spawnListening(['test/fixtures/feature-server.ts', '--port', '0']);
  gw = await startGateway(`
server: { public_url: "https://mcp.example.com", allowed_hosts: [127.0.0.1] }
upstreams:
  feat: { transport: streamable_http, url: "http://127.0.0.1:${feat.port}/mcp" }
auth:
  jwt:
    issuer: ${ISSUER}
    jwks_url: ${jwks.url}
    required_scopes: [mcp]
  authorization_servers: [${ISSUER}]
  forward_identity_header: X-Tollgate-Agent
`);
});
afterAll(async () => {
  await gw?.close();
  await feat?.kill();
  await jwks?.close();
});

describe('JWT agents', () => {
  it('accepts a valid token; the agent is the subject; the token never reaches the upstream', async () => {
    const token = await sign({ sub: 'agent-7', scope: 'mcp tools' });
    const c = await connect(`${gw.url}/mcp`, { key: token });
    const seen = JSON.parse(textOf(await c.callTool({ name: 'feat__headers', arguments: {} }))) as Record<
      string,
      string
    >;
    expect(seen.authorization).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(token.slice(-20));
    expect(seen['x-tollgate-agent']).toBe('agent-7');
    await c.close();
  });

  it('answers 401 with a resource_metadata challenge for a token for another audience', async () => {
    const token = await sign({ sub: 'a', scope: 'mcp' }, { aud: 'https://elsewhere/mcp' });
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
    });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(
      'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="wrong audience", scope="mcp"',
    );
  });

  it('answers 403 insufficient_scope when the token lacks the required scope', async () => {
    const token = await sign({ sub: 'a', scope: 'other' });
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
    });
    expect(r.status).toBe(403);
    expect(r.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="mcp"/);
    expect(await r.json()).toMatchObject({ error: { code: -32041 } });
  });

  it('answers 401 with the challenge when no token is sent, naming the scopes to ask for (MCP 2025-11-25)', async () => {
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(
      'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp"',
    );
  });

  it('serves protected resource metadata at the root and the path-suffixed forms', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const r = await fetch(`${gw.url}${path}`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({
        resource: RESOURCE,
        authorization_servers: [ISSUER],
        bearer_methods_supported: ['header'],
        resource_name: 'Tollgate MCP gateway',
        scopes_supported: ['mcp'],
      });
    }
    const one = (await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/feat`)).json()) as {
      resource: string;
    };
    expect(one.resource).toBe('https://mcp.example.com/mcp' /* one resource for every endpoint */);
  });
});

describe('JWT audience without public_url or auth.resource (serve --port P)', () => {
  const SECRET = 'hmac-secret-0123456789-0123456789-abcdef';
  let local: TestGateway;
  const hs = (aud: string) =>
    new SignJWT({ sub: 'agent-9' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(aud)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
  const initialize = (token: string, path = '/mcp') =>
    fetch(`${local.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });

  beforeAll(async () => {
    // The config says port 8080 (the default); the gateway listens elsewhere, as with `serve --port P`.
    local = await startGateway(`
upstreams:
  feat: { transport: streamable_http, url: "http://127.0.0.1:${feat.port}/mcp" }
auth:
  jwt: { issuer: ${ISSUER}, hmac_secret: ${SECRET} }
`);
  }, 30_000);
  afterAll(() => local?.close());

  it('advertises and requires the same resource: the address listened on, not the config port', async () => {
    const meta = (await (await fetch(`${local.url}/.well-known/oauth-protected-resource/mcp`)).json()) as {
      resource: string;
    };
    expect(meta.resource).toBe(`${local.url}/mcp`);
    expect(new URL(local.url).port).not.toBe('8080');
    expect((await initialize(await hs(meta.resource))).status).toBe(200);
    const stale = await initialize(await hs('http://127.0.0.1:8080/mcp'));
    expect(stale.status).toBe(401);
    expect(stale.headers.get('www-authenticate')).toContain('error_description="wrong audience"');
  });

  it('advertises, for a per-server endpoint, the resource its tokens are accepted for', async () => {
    const meta = (await (await fetch(`${local.url}/.well-known/oauth-protected-resource/mcp/feat`)).json()) as {
      resource: string;
    };
    // One resource for the whole gateway: a token for it opens /mcp and every /mcp/<server>.
    expect(meta.resource).toBe(`${local.url}/mcp`);
    expect((await initialize(await hs(meta.resource), '/mcp/feat')).status).toBe(200);
  });
});
