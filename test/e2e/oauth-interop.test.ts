// Real MCP clients' first login against Tollgate's authorization server, as they send it: the MCP
// SDK's own auth() (discovery, registration, PKCE, token exchange and refresh, as Claude Code and the
// Inspector run it) with auth.jwt beside auth.oauth; VS Code's registration body as it sends it; and
// a browser-based client (MCP Inspector) reading the metadata from its own origin in Chromium.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js';
import {
  Jar,
  authorizeUrl,
  codeFor,
  get,
  hidden,
  initializeWith,
  pkce,
  postForm,
  redeemCode,
  register,
  tokenRequest,
} from '../helpers/oauth.js';

const ALICE = { name: 'alice', password: 'alice-password-1' };
const browserOk = chromiumAvailable();
let gw: TestGateway;
let base: string;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
auth:
  jwt: { issuer: "https://idp.example.com", hmac_secret: "an-hmac-secret-for-the-interop-test-0123456789", required_scopes: [tools] }
  oauth:
    enabled: true
    users: [{ name: alice, password: ${ALICE.password} }]
`);
  base = gw.url;
});
afterAll(async () => {
  await gw?.close();
});

/** Logs in (and consents, unless already given) at an authorization URL a client built; the code from the redirect. */
async function loginAt(url: string, user = ALICE): Promise<string> {
  const jar = new Jar();
  let res = await get(url, jar);
  let html = await res.text();
  expect(res.status, html).toBe(200);
  res = await postForm(`${base}/authorize/login`, jar, {
    txn: hidden(html, 'txn'),
    csrf: hidden(html, 'csrf'),
    username: user.name,
    password: user.password,
  });
  // A consent already given to this client: the login itself answers with the code.
  if (res.status === 200) {
    html = await res.text();
    res = await postForm(`${base}/authorize/consent`, jar, {
      txn: hidden(html, 'txn'),
      csrf: hidden(html, 'csrf'),
      decision: 'allow',
    });
  }
  const to = new URL(res.headers.get('location') ?? 'about:blank');
  const code = to.searchParams.get('code');
  if (!code) throw new Error(`no code: ${to.href}`);
  return code;
}

class MemoryProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authUrl: URL | undefined;
  readonly redirectUrl = 'http://127.0.0.1:53682/callback';
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Claude Code (tollgate)',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(i: OAuthClientInformationMixed) {
    this.info = i;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: OAuthTokens) {
    this.saved = t;
  }
  redirectToAuthorization(u: URL) {
    this.authUrl = u;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

describe('the MCP SDK client (Claude Code, Inspector) logs in the first time', () => {
  it('with auth.jwt beside auth.oauth: asks for the advertised scopes, gets a token for /mcp/feat, refreshes', async () => {
    const serverUrl = `${base}/mcp/feat`;
    // The 401 names the scopes to ask for, which 2025-11-25 clients take before the metadata's.
    expect((await initializeWith(serverUrl, 'not-a-token')).challenge).toContain('scope="mcp tools"');
    const provider = new MemoryProvider();
    expect(await auth(provider, { serverUrl })).toBe('REDIRECT');
    const asked = provider.authUrl as URL;
    // The SDK asks for the protected resource metadata's scopes_supported: Tollgate's own and the
    // scope auth.jwt tokens need, which Tollgate's server does not issue (it used to refuse them).
    expect(asked.searchParams.get('scope')?.split(' ').sort()).toEqual(['mcp', 'tools']);
    const code = await loginAt(asked.href);
    expect(await auth(provider, { serverUrl, authorizationCode: code })).toBe('AUTHORIZED');
    expect(provider.saved?.scope).toBe('mcp');

    const client = new Client({ name: 'interop', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }));
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();

    // The SDK refreshes (with the resource) when told the token is no good; the refresh token rotates.
    const first = provider.saved?.refresh_token;
    expect(await auth(provider, { serverUrl })).toBe('AUTHORIZED');
    expect(provider.saved?.refresh_token).not.toBe(first);
    expect((await initializeWith(serverUrl, provider.saved?.access_token ?? '')).status).toBe(200);
  });

  it('at http://localhost:<port>/mcp of a gateway listening on 127.0.0.1 (no public_url): logs in and lists', async () => {
    const serverUrl = `${base.replace('127.0.0.1', 'localhost')}/mcp`;
    const provider = new MemoryProvider();
    // The SDK refuses a resource metadata naming another origin than the URL it was given.
    expect(await auth(provider, { serverUrl })).toBe('REDIRECT');
    const asked = provider.authUrl as URL;
    expect(asked.origin).toBe(base); // the issuer is still the address listened on
    expect(asked.searchParams.get('resource')).toBe(serverUrl);
    expect(await auth(provider, { serverUrl, authorizationCode: await loginAt(asked.href) })).toBe('AUTHORIZED');
    const client = new Client({ name: 'interop-localhost', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }));
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
    // One resource by either name: the token works at 127.0.0.1 too; a refresh asking for the
    // localhost resource gets one.
    expect((await initializeWith(`${base}/mcp`, provider.saved?.access_token ?? '')).status).toBe(200);
    const first = provider.saved?.refresh_token;
    expect(await auth(provider, { serverUrl })).toBe('AUTHORIZED');
    expect(provider.saved?.refresh_token).not.toBe(first);
    expect((await initializeWith(serverUrl, provider.saved?.access_token ?? '')).status).toBe(200);
  });

  it('at the legacy SSE endpoint /sse/feat (older Claude Desktop configs, mcp-remote sse-only): logs in and lists', async () => {
    const serverUrl = `${base}/sse/feat`;
    const provider = new MemoryProvider();
    // The SDK refuses a resource metadata whose resource is no prefix of the URL it was given.
    expect(await auth(provider, { serverUrl })).toBe('REDIRECT');
    const asked = provider.authUrl as URL;
    expect(await auth(provider, { serverUrl, authorizationCode: await loginAt(asked.href) })).toBe('AUTHORIZED');
    const client = new Client({ name: 'interop-sse', version: '1.0.0' });
    await client.connect(new SSEClientTransport(new URL(serverUrl), { authProvider: provider }));
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
    // The token is the gateway's /mcp one: it opens the Streamable HTTP endpoints too.
    expect((await initializeWith(`${base}/mcp/feat`, provider.saved?.access_token ?? '')).status).toBe(200);
  });

  it("VS Code's registration (it also asks for the device_code grant) registers and logs in on a loopback port", async () => {
    // As VS Code 1.101 sends it (src/vs/base/common/oauth.ts, fetchDynamicRegistration).
    const r = await register(base, {
      client_name: 'Visual Studio Code',
      client_uri: 'https://code.visualstudio.com',
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      redirect_uris: [
        'https://insiders.vscode.dev/redirect',
        'https://vscode.dev/redirect',
        'http://localhost/',
        'http://127.0.0.1/',
        'http://localhost:33418/',
        'http://127.0.0.1:33418/',
      ],
      token_endpoint_auth_method: 'none',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.grant_types).toEqual(['authorization_code', 'refresh_token']);
    const clientId = r.body.client_id as string;
    const redirectUri = 'http://127.0.0.1:41234/'; // the port it got, not one it registered
    const { verifier, challenge } = pkce();
    const resource = `${base}/mcp`;
    const code = await codeFor(base, { clientId, redirectUri, challenge, resource, scope: 'mcp' }, ALICE);
    const t = await redeemCode(base, { code, verifier, clientId, redirectUri, resource });
    expect(t.status).toBe(200);
    expect((await initializeWith(resource, t.body.access_token as string)).status).toBe(200);
  });

  it('a client with one redirect URI may leave redirect_uri out of both requests (RFC 6749 §4.1.3), not out of one', async () => {
    const redirectUri = 'http://127.0.0.1:8976/callback';
    const r = await register(base, { redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
    const clientId = r.body.client_id as string;
    const login = async (omit: boolean) => {
      const { verifier, challenge } = pkce();
      const url = new URL(authorizeUrl(base, { clientId, redirectUri, challenge }));
      if (omit) url.searchParams.delete('redirect_uri');
      return { code: await loginAt(url.href), verifier };
    };
    const omitted = await login(true);
    const t = await tokenRequest(base, {
      grant_type: 'authorization_code',
      code: omitted.code,
      code_verifier: omitted.verifier,
      client_id: clientId,
    });
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    // Sent at /authorize: /token must send it too.
    const sent = await login(false);
    const refused = await tokenRequest(base, {
      grant_type: 'authorization_code',
      code: sent.code,
      code_verifier: sent.verifier,
      client_id: clientId,
    });
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('a client asking for nothing but the grant types Tollgate lacks is still refused', async () => {
    const r = await register(base, {
      redirect_uris: ['http://127.0.0.1/cb'],
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'none',
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_client_metadata');
  });
});

describe.skipIf(!browserOk)('a browser-based client (MCP Inspector) discovers from its own origin', () => {
  it('reads the protected resource metadata cross-origin (with the MCP-Protocol-Version header), then the AS metadata and registers', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      // Another origin than the gateway's 127.0.0.1 one: the same gateway by the name localhost.
      await page.goto(`${base.replace('127.0.0.1', 'localhost')}/healthz`);
      const found = await page.evaluate(async (gateway) => {
        const headers = { 'MCP-Protocol-Version': '2025-11-25' };
        const prm = (await (
          await fetch(`${gateway}/.well-known/oauth-protected-resource/mcp/feat`, { headers })
        ).json()) as {
          resource: string;
          authorization_servers: string[];
          scopes_supported: string[];
        };
        const as = (await (
          await fetch(`${prm.authorization_servers[0]}/.well-known/oauth-authorization-server`)
        ).json()) as {
          registration_endpoint: string;
        };
        const reg = await fetch(as.registration_endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            redirect_uris: ['http://localhost:6274/oauth/callback'],
            token_endpoint_auth_method: 'none',
          }),
        });
        return { resource: prm.resource, scopes: prm.scopes_supported, registered: reg.status };
      }, base);
      expect(found).toEqual({ resource: `${base}/mcp`, scopes: ['mcp', 'tools'], registered: 201 });
    } finally {
      await browser.close();
    }
  });
});
