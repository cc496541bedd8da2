// Tollgate as the OAuth authorization server (auth.oauth): the MCP SDK client's own OAuth support
// logging in through the login and consent pages in real Chromium, company login through a real
// OpenID Provider (oidc-provider in its own process), then the protocol's attacks over plain HTTP and
// Client ID Metadata Documents. One gateway (in-process, stdio upstream), one IdP and one browser.
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { createServer as createHttpsServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { SignJWT } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { hashPassword } from '../../src/oauth/users.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js';
import { waitUntil } from '../helpers/wait.js';
import {
  Jar,
  authorizeUrl,
  codeFor,
  get,
  hidden,
  pkce,
  postForm,
  register,
  redeemCode,
  tokenRequest,
  initializeWith,
} from '../helpers/oauth.js';

const ALICE = { name: 'alice', password: 'alice-password-1' };
const BOB = { name: 'bob', password: 'bob-password-2' };
const API_KEY = 'api-key-still-works-0123';
const ADMIN = 'admin-token-for-oauth-tests';
const browserOk = chromiumAvailable();

let gw: TestGateway & { auditFile: string };
/** The company IdP: oidc-provider as a separate process (test/fixtures/oidc-idp.ts). */
let idp: Spawned;
const IDP_SECRET = 'tollgate-idp-client-secret-0123456789';
let base: string;
let callback: { url: string; codes: string[]; close(): Promise<void> };
/** An https server (certificate from a test CA the gateway trusts through client_id_metadata.ca_file) serving client metadata documents. */
let docs: { base: string; port: number; close(): Promise<void> };

function testCa(dir: string): { caFile: string; key: Buffer; cert: Buffer } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tollgate test CA');
  run('req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
  return {
    caFile: join(dir, 'ca.pem'),
    key: readFileSync(join(dir, 'srv.key')),
    cert: readFileSync(join(dir, 'srv.pem')),
  };
}

function metadataServer(tls: { key: Buffer; cert: Buffer }): Promise<typeof docs> {
  const server = createHttpsServer(tls, (req, res) => {
    const self = `https://localhost:${(server.address() as AddressInfo).port}${req.url}`;
    const doc = (body: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
    const meta = { client_name: 'Metadata client', redirect_uris: [callback.url], token_endpoint_auth_method: 'none' };
    if (req.url === '/client.json') return doc({ ...meta, client_id: self });
    if (req.url === '/mismatch.json') return doc({ ...meta, client_id: 'https://localhost/someone-else.json' });
    if (req.url === '/other-redirect.json')
      return doc({ ...meta, client_id: self, redirect_uris: ['https://other.example/cb'] });
    if (req.url === '/big.json') return doc({ ...meta, client_id: self, padding: 'x'.repeat(64 * 1024) });
    if (req.url === '/slow.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      return; // never ends
    }
    res.statusCode = 404;
    res.end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        base: `https://localhost:${port}`,
        port,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    }),
  );
}

function callbackServer(): Promise<typeof callback> {
  const codes: string[] = [];
  const server: Server = createServer((req, res) => {
    const code = new URL(req.url ?? '/', 'http://x').searchParams.get('code');
    if (code) codes.push(code);
    res.end('done');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
        codes,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    ),
  );
}

beforeAll(async () => {
  const dir = tempDir('tollgate-oauth-');
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(
    join(policies, 'alice.yaml'),
    'agent: alice-agent\nidentities: { oauth_subjects: [alice] }\ntools: { allow: ["feat__echo"] }\n',
  );
  writeFileSync(join(policies, 'eng.yaml'), 'group: eng\ntools: { allow: ["feat__*"], deny: ["feat__crash"] }\n');
  writeFileSync(join(policies, 'keyed.yaml'), 'agent: keyed\ntools: { allow: ["*"] }\n');
  callback = await callbackServer();
  idp = await spawnListening(['test/fixtures/oidc-idp.ts', '--secret', IDP_SECRET]);
  const tls = testCa(dir);
  docs = await metadataServer(tls);
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
auth:
  api_keys: [{ agent: keyed, key: ${API_KEY} }]
  oauth:
    enabled: true
    users:
      - { name: alice, password: ${ALICE.password} }
      - { name: bob, password_hash: "${hashPassword(BOB.password)}", groups: [eng] }
    login_attempts: { max: 3, window: 1h }
    oidc: { issuer: "http://127.0.0.1:${idp.port}", client_id: tollgate, client_secret: ${IDP_SECRET}, name: Example Corp, scopes: [openid, groups] }
    client_id_metadata: { ca_file: ${tls.caFile}, allow_private_hosts: [localhost], timeout: 3s, max_bytes: 8192 }
policies: { dir: ${policies}, watch: false }
admin: { tokens: [${ADMIN}] }
llm:
  upstreams:
    openai: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: not-used-here, models: [gpt-test] }
`);
  base = gw.url;
});
afterAll(async () => {
  await gw?.close();
  await callback?.close();
  await docs?.close();
  await idp?.kill();
});

const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;

/** An MCP SDK OAuthClientProvider that keeps everything in memory and hands the login URL to the test. */
class MemoryProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authUrl: URL | undefined;
  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
  ) {}
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK test client',
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

/** A registered public client (DCR) with our callback as its redirect URI. */
async function newClient(redirectUris = [callback.url]): Promise<string> {
  const r = await register(base, {
    client_name: 'raw test',
    redirect_uris: redirectUris,
    token_endpoint_auth_method: 'none',
  });
  expect(r.status).toBe(201);
  return r.body.client_id as string;
}

/** Tokens for a fresh client and login (over HTTP). */
async function tokensFor(user = ALICE, resource = `${base}/mcp`) {
  const clientId = await newClient();
  const { verifier, challenge } = pkce();
  const code = await codeFor(base, { clientId, redirectUri: callback.url, challenge, resource }, user);
  const t = await redeemCode(base, { code, verifier, clientId, redirectUri: callback.url, resource });
  expect(t.status).toBe(200);
  return { clientId, code, verifier, ...(t.body as { access_token: string; refresh_token: string }) };
}

const mcpStatus = async (token: string, path = '/mcp') => (await initializeWith(`${base}${path}`, token)).status;

describe('discovery', () => {
  it('serves RFC 8414 metadata at both discovery paths, and the resource metadata names Tollgate', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const m = (await (await fetch(`${base}${path}`)).json()) as Record<string, unknown>;
      expect(m).toMatchObject({
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        registration_endpoint: `${base}/register`,
        code_challenge_methods_supported: ['S256'],
        client_id_metadata_document_supported: true,
      });
    }
    const prm = (await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<
      string,
      unknown
    >;
    expect(prm.authorization_servers).toEqual([base]);
    const jwks = (await (await fetch(`${base}/oauth/jwks`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
  });
});

describe.skipIf(!browserOk)('the MCP SDK client logs in through the pages in Chromium', () => {
  let browser: { context: BrowserContext; close(): Promise<void> };
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('registers, logs in, consents, lists and calls tools; API keys keep working', async () => {
    const provider = new MemoryProvider(callback.url);
    const url = new URL(`${base}/mcp`);
    const first = new Client({ name: 'sdk-oauth', version: '1.0.0' });
    await expect(first.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }))).rejects.toThrow(
      UnauthorizedError,
    );
    expect(provider.authUrl?.href).toContain(`${base}/authorize?`);
    const page = await browser.context.newPage();
    await page.goto(provider.authUrl?.href ?? '');
    await page.fill('#username', BOB.name);
    await page.fill('#password', BOB.password);
    await page.click('#login');
    await page.waitForSelector('#allow');
    expect(await page.textContent('#client-name')).toBe('SDK test client');
    expect(await page.textContent('#resource')).toBe(`${base}/mcp`);
    expect(await page.textContent('#redirect-host')).toBe(new URL(callback.url).host);
    const before = callback.codes.length;
    await page.click('#allow');
    await waitUntil(() => callback.codes.length > before, 30_000);
    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await transport.finishAuth(callback.codes.at(-1) ?? '');
    const client = new Client({ name: 'sdk-oauth', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
    // bob is in group eng: feat__* except feat__crash.
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('feat__echo');
    expect(names).not.toContain('feat__crash');
    expect(textOf(await client.callTool({ name: 'feat__echo', arguments: { text: 'hi' } }))).toContain('hi');
    await client.close();
    // The audit record names the user and the client; the agent is user:bob (no file maps bob).
    const clientId = provider.info?.client_id;
    const audited = () =>
      readFileSync(gw.auditFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((r) => r['gen_ai.tool.name'] === 'feat__echo' && r['tollgate.auth.user'] === 'bob');
    await waitUntil(() => audited() !== undefined, 30_000);
    expect(audited()).toMatchObject({
      'gen_ai.agent.id': 'user:bob',
      'tollgate.auth.method': 'oauth',
      'tollgate.auth.client': clientId,
    });

    // Consent is remembered: the next authorization for this client returns at once.
    const again = new MemoryProvider(callback.url);
    again.info = provider.info;
    await expect(
      new Client({ name: 'x', version: '1' }).connect(new StreamableHTTPClientTransport(url, { authProvider: again })),
    ).rejects.toThrow(UnauthorizedError);
    const n = callback.codes.length;
    await page.goto(again.authUrl?.href ?? '');
    await waitUntil(() => callback.codes.length > n, 30_000);
    await page.close();

    // API keys beside OAuth.
    expect(await mcpStatus(API_KEY)).toBe(200);
  });

  it("mcp-remote with no header (Claude Desktop's bridge) registers, sends its user to the login page, then lists and calls", async () => {
    await browser.context.clearCookies();
    // mcp-remote's OAuth callback listens on a port of its own: a free one, so parallel runs never meet.
    const port = await new Promise<number>((done) => {
      const probe = createNetServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => done(p));
      });
    });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [resolvePath('node_modules/mcp-remote/dist/proxy.js'), `${base}/mcp`, String(port), '--allow-http'],
      // Its client registration and tokens go under this folder; no browser opens here (none is installed),
      // so it prints the login URL, which the test opens in Chromium as the user would.
      env: { ...process.env, MCP_REMOTE_CONFIG_DIR: tempDir('tollgate-mcp-remote-'), BROWSER: 'none' } as Record<
        string,
        string
      >,
      stderr: 'pipe',
    });
    let said = '';
    transport.stderr?.on('data', (d: Buffer) => (said += d.toString()));
    const client = new Client({ name: 'desktop-like', version: '1.0.0' });
    const connected = client.connect(transport, { timeout: 120_000 });
    try {
      await waitUntil(() => /visiting:\s*(http\S+)/.test(said), 60_000);
      const authUrl = /visiting:\s*(http\S+)/.exec(said)?.[1] ?? '';
      expect(authUrl).toContain(`${base}/authorize?`);
      const page = await browser.context.newPage();
      await page.goto(authUrl);
      await page.fill('#username', ALICE.name);
      await page.fill('#password', ALICE.password);
      await page.click('#login');
      await page.waitForSelector('#allow');
      expect(await page.textContent('#redirect-host')).toBe(`localhost:${port}`);
      await page.click('#allow');
      await connected;
      await page.close();
      // alice acts as alice-agent (identities.oauth_subjects), whose policy allows feat__echo only.
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['feat__echo']);
      expect(textOf(await client.callTool({ name: 'feat__echo', arguments: { text: 'via mcp-remote' } }))).toContain(
        'via mcp-remote',
      );
      await expect(client.callTool({ name: 'feat__crash', arguments: {} })).rejects.toThrow(/-32041|-32602/);
    } finally {
      await client.close();
    }
  });

  it('company login: a user logs in through the OpenID Provider; its groups claim selects the policy group', async () => {
    // Which step a failure (or a hang cut by the test timeout) stopped at, and where the page was.
    let step = 'start';
    let shown: Page | undefined;
    onTestFailed(() => console.error(`company login stopped at: ${step}; page at ${shown?.url() ?? '-'}`));
    await browser.context.clearCookies(); // no Tollgate login session from the test before
    const clientId = await newClient();
    const { verifier, challenge } = pkce();
    step = 'authorize page';
    const page = await browser.context.newPage();
    shown = page;
    await page.goto(authorizeUrl(base, { clientId, redirectUri: callback.url, challenge, resource: `${base}/mcp` }));
    expect(await page.textContent('#oidc')).toContain('Example Corp');
    step = 'IdP login page';
    await page.click('#oidc');
    // oidc-provider's own login page (any password), then its consent page (it always asks a native
    // client), then Tollgate's consent. Each click waits for the next page: the IdP's two pages have
    // the same submit button, so waiting for a selector alone could click the login form twice.
    await page.waitForSelector('input[name=login]');
    expect(page.url()).toContain(`127.0.0.1:${idp.port}`);
    await page.fill('input[name=login]', 'carol');
    await page.fill('input[name=password]', 'any-password');
    const submitAndLeave = async () => {
      const from = page.url();
      await page.click('button[type=submit]');
      await page.waitForURL((u) => u.href !== from, { waitUntil: 'commit' });
    };
    step = 'IdP consent page';
    await submitAndLeave();
    if (new URL(page.url()).port === String(idp.port)) await submitAndLeave();
    step = 'Tollgate consent page';
    await page.waitForSelector('#allow');
    expect(await page.textContent('#user')).toBe('carol');
    const before = callback.codes.length;
    await page.click('#allow');
    await waitUntil(() => callback.codes.length > before, 30_000);
    // The page is left open (the browser closes after the file): in a CI run this test stopped right
    // after the callback had its code, at page.close() or the code exchange, and the code exchange
    // worked in every test after it.
    step = 'code exchange';
    const t = await redeemCode(base, {
      code: callback.codes.at(-1) ?? '',
      verifier,
      clientId,
      redirectUri: callback.url,
    });
    expect(t.status).toBe(200);
    step = 'MCP initialize';
    const client = new Client({ name: 'oidc-user', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${t.body.access_token as string}` } },
      }),
    );
    // user:carol, groups [eng] from the IdP's claim: group eng's allow-list applies (feat__* but not crash).
    step = 'tools/list';
    const names = (await client.listTools()).tools.map((x) => x.name);
    expect(names).toContain('feat__echo');
    expect(names).not.toContain('feat__crash');
    step = 'close';
    await client.close();
  }, 150_000);
});

describe('attacks on the authorization server', () => {
  it('a code is redeemed once; a replay is refused and revokes the tokens the first redemption got', async () => {
    const t = await tokensFor();
    expect(await mcpStatus(t.access_token)).toBe(200);
    const replay = await redeemCode(base, {
      code: t.code,
      verifier: t.verifier,
      clientId: t.clientId,
      redirectUri: callback.url,
    });
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await mcpStatus(t.access_token)).toBe(401);
  });

  it('a code_verifier that does not match the challenge is refused', async () => {
    const clientId = await newClient();
    const { challenge } = pkce();
    const code = await codeFor(base, { clientId, redirectUri: callback.url, challenge }, ALICE);
    const r = await redeemCode(base, { code, verifier: pkce().verifier, clientId, redirectUri: callback.url });
    expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('PKCE is required and only S256; a resource Tollgate does not serve is refused with invalid_target', async () => {
    const clientId = await newClient();
    const { challenge } = pkce();
    const jar = new Jar();
    for (const [extra, error] of [
      [{ resource: 'https://elsewhere.example/mcp' }, 'invalid_target'],
      [{ resource: `${base}/mcp/nosuchserver` }, 'invalid_target'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge: '' }, 'invalid_request'],
    ] as const) {
      const res = await get(authorizeUrl(base, { clientId, redirectUri: callback.url, challenge, extra }), jar);
      expect(res.status).toBe(302);
      const back = new URL(res.headers.get('location') ?? '');
      expect(back.origin + back.pathname).toBe(callback.url);
      expect(back.searchParams.get('error')).toBe(error);
      expect(back.searchParams.get('state')).toBe('st-1');
    }
  });

  it('redirect URI tricks are refused on a page of our own, never redirected', async () => {
    const clientId = await newClient([callback.url, 'https://app.example.com/cb']);
    const { challenge } = pkce();
    const loopbackOtherPort = callback.url.replace(/:\d+\//, ':1/');
    for (const redirectUri of [
      'https://evil.example/cb', // open redirect
      'https://app.example.com:8443/cb', // other port on a non-loopback host
      'https://app.example.com/cb/../evil',
      'https://app.example.com/cb?x=1',
      'https://app.example.com.evil.example/cb',
      `${callback.url}#frag`,
    ]) {
      const res = await get(authorizeUrl(base, { clientId, redirectUri, challenge }), new Jar());
      expect(res.status, redirectUri).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('invalid_request');
    }
    // A loopback redirect URI may come back on another port (RFC 8252 §7.3).
    const ok = await get(authorizeUrl(base, { clientId, redirectUri: loopbackOtherPort, challenge }), new Jar());
    expect(ok.status).toBe(200);
    // Registration refuses what could never be safe.
    for (const uri of ['http://evil.example/cb', 'javascript:alert(1)', 'https://a.example/cb#x'])
      expect((await register(base, { redirect_uris: [uri], token_endpoint_auth_method: 'none' })).body.error).toBe(
        'invalid_redirect_uri',
      );
  });

  it('refresh tokens rotate; presenting a spent one revokes the whole family', async () => {
    const t = await tokensFor();
    const r1 = await tokenRequest(base, {
      grant_type: 'refresh_token',
      refresh_token: t.refresh_token,
      client_id: t.clientId,
    });
    expect(r1.status).toBe(200);
    const fresh = r1.body as { access_token: string; refresh_token: string };
    expect(fresh.refresh_token).not.toBe(t.refresh_token);
    expect(await mcpStatus(fresh.access_token)).toBe(200);
    const reuse = await tokenRequest(base, {
      grant_type: 'refresh_token',
      refresh_token: t.refresh_token,
      client_id: t.clientId,
    });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The family is gone: the newest refresh token and access token too.
    expect(await mcpStatus(fresh.access_token)).toBe(401);
    const after = await tokenRequest(base, {
      grant_type: 'refresh_token',
      refresh_token: fresh.refresh_token,
      client_id: t.clientId,
    });
    expect(after.body.error).toBe('invalid_grant');
  });

  it('a token is bound to its resource: /v1 is refused on /mcp, /mcp/feat only on /mcp/feat', async () => {
    const v1 = await tokensFor(ALICE, `${base}/v1`);
    expect(await mcpStatus(v1.access_token)).toBe(401);
    const feat = await tokensFor(BOB, `${base}/mcp/feat`);
    expect(await mcpStatus(feat.access_token, '/mcp/feat')).toBe(200);
    expect(await mcpStatus(feat.access_token, '/mcp')).toBe(401);
    const all = await tokensFor(BOB);
    expect(await mcpStatus(all.access_token, '/mcp/feat')).toBe(200);
  });

  it('expired and revoked tokens are refused', async () => {
    const t = await tokensFor();
    expect(await mcpStatus(t.access_token)).toBe(200);
    // The same claims, signed by Tollgate's own key, but expired.
    const as = gw.gw.oauth;
    if (!as) throw new Error('oauth is off');
    const key = await as.keys.current();
    const claims = JSON.parse(Buffer.from(t.access_token.split('.')[1] ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 120 })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .sign(key.privateKey);
    const res = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${expired}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('token expired');
    const revoke = await postForm(`${base}/revoke`, new Jar(), { token: t.refresh_token, client_id: t.clientId });
    expect(revoke.status).toBe(200);
    expect(await mcpStatus(t.access_token)).toBe(401);
  });

  it('the consent form refuses a forged post: wrong CSRF token, foreign Origin, no login cookie', async () => {
    const clientId = await newClient();
    const { challenge } = pkce();
    const jar = new Jar();
    const first = await get(authorizeUrl(base, { clientId, redirectUri: callback.url, challenge }), jar);
    const html = await first.text();
    const login = await postForm(`${base}/authorize/login`, jar, {
      txn: hidden(html, 'txn'),
      csrf: hidden(html, 'csrf'),
      username: ALICE.name,
      password: ALICE.password,
    });
    const consent = await login.text();
    const form = { txn: hidden(consent, 'txn'), csrf: hidden(consent, 'csrf'), decision: 'allow' };
    const noTxnCookie = new Jar();
    for (const [k, v] of jar.cookies) if (k !== 'tg_oauth_txn') noTxnCookie.cookies.set(k, v);
    for (const [j, f, h] of [
      [jar, { ...form, csrf: 'forged' }, {}],
      [jar, form, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
      [noTxnCookie, form, {}],
    ] as const) {
      const r = await postForm(`${base}/authorize/consent`, j, f, h);
      expect(r.status).toBe(403);
      expect(r.headers.get('location')).toBeNull();
    }
    // The genuine post still works.
    const ok = await postForm(`${base}/authorize/consent`, jar, form);
    expect(new URL(ok.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy();
  });

  it('login brute force is limited per user name (even the right password waits)', async () => {
    const clientId = await newClient();
    const { challenge } = pkce();
    const jar = new Jar();
    const html = await (await get(authorizeUrl(base, { clientId, redirectUri: callback.url, challenge }), jar)).text();
    const attempt = (password: string) =>
      postForm(`${base}/authorize/login`, jar, {
        txn: hidden(html, 'txn'),
        csrf: hidden(html, 'csrf'),
        username: 'carol',
        password,
      });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await attempt(`guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});

describe('Client ID Metadata Documents', () => {
  it('a client whose client_id is an https URL logs in (MCP SDK client, document fetched by the gateway)', async () => {
    const provider = new MemoryProvider(callback.url, `${docs.base}/client.json`);
    const url = new URL(`${base}/mcp`);
    await expect(
      new Client({ name: 'cimd', version: '1' }).connect(
        new StreamableHTTPClientTransport(url, { authProvider: provider }),
      ),
    ).rejects.toThrow(UnauthorizedError);
    const auth = provider.authUrl;
    if (!auth) throw new Error('no authorization URL');
    expect(auth.searchParams.get('client_id')).toBe(`${docs.base}/client.json`);
    const jar = new Jar();
    const loginPage = await (await get(auth.href, jar)).text();
    expect(loginPage).toContain('Metadata client');
    const consent = await (
      await postForm(`${base}/authorize/login`, jar, {
        txn: hidden(loginPage, 'txn'),
        csrf: hidden(loginPage, 'csrf'),
        username: ALICE.name,
        password: ALICE.password,
      })
    ).text();
    const done = await postForm(`${base}/authorize/consent`, jar, {
      txn: hidden(consent, 'txn'),
      csrf: hidden(consent, 'csrf'),
      decision: 'allow',
    });
    const code = new URL(done.headers.get('location') ?? '').searchParams.get('code') ?? '';
    await new StreamableHTTPClientTransport(url, { authProvider: provider }).finishAuth(code);
    const client = new Client({ name: 'cimd', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
    // alice is mapped to agent alice-agent (identities.oauth_subjects): echo only.
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['feat__echo']);
    await client.close();
  });

  it.each([
    ['on a private address', () => `https://127.0.0.1:${docs.port}/client.json`, 'private address'],
    ['oversized', () => `${docs.base}/big.json`, 'larger than 8192 bytes'],
    ['slow', () => `${docs.base}/slow.json`, 'not fetched within 3000 ms'],
    ['naming another client_id', () => `${docs.base}/mismatch.json`, 'client_id is not its own URL'],
    ['over plain http', () => `http://localhost:${docs.port}/client.json`, 'https only'],
  ])('a metadata document %s is refused with invalid_client', async (_, clientId, reason) => {
    const res = await get(
      authorizeUrl(base, { clientId: clientId(), redirectUri: callback.url, challenge: pkce().challenge }),
      new Jar(),
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('invalid_client');
    expect(html).toContain(reason);
  });

  it('a redirect URI the document does not list is refused (no redirect)', async () => {
    const res = await get(
      authorizeUrl(base, {
        clientId: `${docs.base}/other-redirect.json`,
        redirectUri: callback.url,
        challenge: pkce().challenge,
      }),
      new Jar(),
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('redirect_uri is not one the client registered');
  });
});

describe('admin', () => {
  it('lists grants and registered clients, and revokes them', async () => {
    const t = await tokensFor(BOB);
    const auth = { authorization: `Bearer ${ADMIN}` };
    const grants = (await (await fetch(`${base}/admin/api/oauth/grants`, { headers: auth })).json()) as {
      grants: { gid: string; sub: string; clientId: string }[];
    };
    const mine = grants.grants.find((g) => g.clientId === t.clientId);
    expect(mine?.sub).toBe('bob');
    const clients = (await (await fetch(`${base}/admin/api/oauth/clients`, { headers: auth })).json()) as {
      clients: Record<string, unknown>[];
    };
    const client = clients.clients.find((c) => c.client_id === t.clientId);
    expect(client).toBeDefined();
    expect(JSON.stringify(clients)).not.toContain('secret_hash');
    expect(await mcpStatus(t.access_token)).toBe(200);
    const revoke = await fetch(`${base}/admin/api/oauth/grants/${mine?.gid}/revoke`, { method: 'POST', headers: auth });
    expect(revoke.status).toBe(200);
    expect(await mcpStatus(t.access_token)).toBe(401);
    const removed = await fetch(`${base}/admin/api/oauth/clients/${encodeURIComponent(t.clientId)}/revoke`, {
      method: 'POST',
      headers: auth,
    });
    expect(removed.status).toBe(200);
    const again = await get(
      authorizeUrl(base, { clientId: t.clientId, redirectUri: callback.url, challenge: pkce().challenge }),
      new Jar(),
    );
    expect(again.status).toBe(400);
  });
});
