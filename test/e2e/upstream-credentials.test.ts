// Upstream credentials per user, end to end: an MCP server protected by a real OAuth provider
// (oidc-provider, test/fixtures/upstream-as.ts) behind one gateway; users authorize in real Chromium
// (one browser, a context per user); the upstream echoes each token's subject.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { SignJWT } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumAvailable } from '../helpers/chromium.js';
import { connect, nextNotification } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const enabled = chromiumAvailable();
const SUBJECT_SECRET = randomBytes(32).toString('base64url');
const KEYS = { alice: 'alice-key-0123456789', bob: 'bob-key-0123456789', mallory: 'mallory-key-0123456789' };
const ADMIN = 'admin-token-0123456789';

let as: Spawned;
let gw: Spawned;
let asUrl: string;
let gwUrl: string;
let dir: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
const clients: Client[] = [];

async function agent(key: string, capabilities: ClientCapabilities = {}): Promise<Client> {
  const c = await connect(`${gwUrl}/mcp`, { key, capabilities });
  clients.push(c);
  return c;
}

/** The tool's text, or the JSON-RPC error (code, data) the call ended with. */
async function call(
  c: Client,
  tool: string,
): Promise<{ text?: string; code?: number; data?: Record<string, unknown> }> {
  try {
    const r = await c.callTool({ name: tool, arguments: {} });
    const content = r.content as { type: string; text: string }[];
    return r.isError ? { code: 0, text: content[0]?.text } : { text: content[0]?.text ?? '' };
  } catch (err) {
    const e = err as { code?: number; data?: Record<string, unknown> };
    return { code: e.code, data: e.data };
  }
}

async function linkFor(c: Client, tool = 'notes__whoami'): Promise<{ url: string; connections: string; id: string }> {
  const r = await call(c, tool);
  expect(r.code).toBe(-32042);
  const els = r.data?.elicitations as { mode: string; url: string; elicitationId: string }[];
  expect(els[0]?.mode).toBe('url');
  return { url: els[0]?.url ?? '', connections: String(r.data?.connections), id: els[0]?.elicitationId ?? '' };
}

async function newPage(): Promise<Page> {
  const ctx = await browser.newContext();
  contexts.push(ctx);
  return ctx.newPage();
}

/** Opens a connect link, confirms, logs in at the provider as `login` (when asked) and consents, waits for the result page. */
async function authorize(page: Page, link: string, login: string): Promise<string> {
  await page.goto(link);
  await page.click('#continue');
  await passProvider(page, login, (u) => u.pathname === '/connections/callback');
  return (await page.textContent('h1')) ?? '';
}

/** The provider's pages (login form, then consent) until `done`. */
async function passProvider(page: Page, login: string, done: (u: URL) => boolean): Promise<void> {
  for (let step = 0; step < 4; step++) {
    await page.waitForURL((u) => u.pathname.startsWith('/interaction/') || done(u));
    if (done(new URL(page.url()))) return;
    const form = page.locator('input[name=login]');
    if ((await form.count()) > 0) {
      await form.fill(login);
      await page.fill('input[name=password]', 'any');
    }
    const from = page.url();
    await page.click('button[type=submit]');
    // Either the page moves on, or (a test that intercepts the callback) `done` says it is over.
    await Promise.race([page.waitForURL((u) => u.href !== from), waitUntil(() => done(new URL(page.url())), 60_000)]);
    if (done(new URL(page.url()))) return;
  }
  throw new Error(`provider pages did not end: ${page.url()}`);
}

const sub = (text: string | undefined) => /sub=(\S+)/.exec(text ?? '')?.[1];
const jti = (text: string | undefined) => /jti=(\S+)/.exec(text ?? '')?.[1];
const stats = async () => (await (await fetch(`${asUrl}/control/stats`)).json()) as Record<string, number>;
const control = (what: string, who: string) =>
  fetch(`${asUrl}/control/${what}?sub=${encodeURIComponent(who)}`, { method: 'POST' });

describe.skipIf(!enabled)('upstream credentials per user', () => {
  let alice: Client;
  let bob: Client;
  let mallory: Client;
  let alicePage: Page;
  let bobPage: Page;
  let aliceLinks: { url: string; connections: string; id: string };

  beforeAll(async () => {
    dir = tempDir('tollgate-creds-');
    as = await spawnListening(['test/fixtures/upstream-as.ts', '--subject-secret', SUBJECT_SECRET]);
    asUrl = `http://127.0.0.1:${as.port}`;
    const key = `k1:${randomBytes(32).toString('base64')}`;
    const config = join(dir, 'tollgate.yaml');
    const up = `transport: streamable_http, url: "${asUrl}/mcp", protocol: 2025, isolation: per_agent`;
    writeFileSync(
      config,
      `server: { host: 127.0.0.1, port: 0 }
auth:
  api_keys:
${Object.entries(KEYS)
  .map(([a, k]) => `    - { agent: ${a}, key: ${k} }`)
  .join('\n')}
  jwt: { issuer: test-agents, audience: tollgate-test, hmac_secret: "${SUBJECT_SECRET}" }
admin: { tokens: [${ADMIN}] }
audit: { file: audit.jsonl }
credentials:
  vault: { file: vault.json, keys: ["${key}"] }
upstreams:
  notes: { ${up}, auth: { kind: oauth, client: { id: tollgate-web, secret: web-secret-0123456789 } } }
  fresh: { ${up}, auth: { kind: oauth, registration: dynamic, refresh_before: 2h } }
  team:
    ${up.replace(/, /g, '\n    ')}
    headers: { authorization: "Bearer static-operator" }
    auth:
      kind: per_agent
      agents: { alice: { headers: { authorization: "Bearer static-alice", x-team: red } } }
      groups: { blue: { headers: { authorization: "Bearer static-blue", x-team: blue } } }
  exch:
    ${up.replace(/, /g, '\n    ')}
    auth:
      kind: token_exchange
      token_endpoint: "${asUrl}/token"
      client: { id: tollgate-exchange, secret: exchange-secret-0123456789 }
      catalog_headers: { authorization: "Bearer static-operator" }
`,
    );
    gw = await spawnListening(['bin/tollgate.mjs', 'serve', '--config', config, '--port', '0']);
    gwUrl = `http://127.0.0.1:${gw.port}`;
    // The pre-registered client, now that the gateway's callback URL is known.
    await fetch(`${asUrl}/control/client`, {
      method: 'POST',
      body: JSON.stringify({
        client_id: 'tollgate-web',
        client_secret: 'web-secret-0123456789',
        redirect_uris: [`${gwUrl}/connections/callback`],
      }),
    });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
    [alice, bob, mallory] = await Promise.all([
      agent(KEYS.alice),
      agent(KEYS.bob, { elicitation: { url: {} } }), // bob's client knows URL elicitation (2025-11-25)
      agent(KEYS.mallory),
    ]);
    [alicePage, bobPage] = await Promise.all([newPage(), newPage()]);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await gw?.kill();
    await as?.kill();
  });

  it('asks a user without a connection to authorize: -32042 with a URL elicitation naming a link', async () => {
    aliceLinks = await linkFor(alice);
    expect(aliceLinks.url.startsWith(`${gwUrl}/connections/start?t=`)).toBe(true);
  });

  it("two users authorize in their browsers; each user's calls carry their own token", async () => {
    expect(await authorize(alicePage, aliceLinks.url, 'alice@idp')).toBe('Connected notes');
    // The result page links to the user's connections page.
    aliceLinks.connections = (await alicePage.getAttribute('#manage', 'href')) ?? '';
    expect(aliceLinks.connections.startsWith(`${gwUrl}/connections?t=`)).toBe(true);
    // The catalog comes from the first connected user's session.
    await waitUntil(async () => (await alice.listTools()).tools.some((t) => t.name === 'notes__whoami'), 30_000);
    expect(sub((await call(alice, 'notes__whoami')).text)).toBe('alice@idp');
    // Bob has no connection: alice's does not serve him.
    const bobLink = await linkFor(bob);
    const completed = nextNotification(bob, 'notifications/elicitation/complete');
    expect(await authorize(bobPage, bobLink.url, 'bob@idp')).toBe('Connected notes');
    // His client is told the elicitation is complete.
    expect((await completed).params).toEqual({ elicitationId: bobLink.id });
    expect(sub((await call(bob, 'notes__whoami')).text)).toBe('bob@idp');
    expect(sub((await call(alice, 'notes__whoami')).text)).toBe('alice@idp');
  });

  it('binds the callback to the browser that started it; tampered and replayed callbacks are refused', async () => {
    const page = await newPage();
    const link = (await linkFor(mallory)).url;
    let authUrl = '';
    let callbackUrl = '';
    page.on('request', (r) => {
      if (r.url().startsWith(`${asUrl}/auth?`) && !authUrl) authUrl = r.url();
      if (r.url().startsWith(`${gwUrl}/connections/callback`)) callbackUrl = r.url();
    });
    await page.goto(link);
    await page.click('#continue');
    await page.waitForURL((u) => u.pathname.startsWith('/interaction/'));
    // Fixation: mallory's authorization request, completed by bob in his browser, connects nothing.
    await bobPage.goto(authUrl);
    await passProvider(bobPage, 'bob@idp', (u) => u.pathname === '/connections/callback');
    expect(await bobPage.textContent('h1')).toBe('Authorization refused');
    expect((await call(mallory, 'notes__whoami')).code).toBe(-32042);
    expect(sub((await call(bob, 'notes__whoami')).text)).toBe('bob@idp');
    // The browser that started it completes it, once.
    await passProvider(page, 'mallory@idp', (u) => u.pathname === '/connections/callback');
    expect(await page.textContent('h1')).toBe('Connected notes');
    expect(sub((await call(mallory, 'notes__whoami')).text)).toBe('mallory@idp');
    expect((await page.goto(callbackUrl))?.status()).toBe(409);
    // A changed state does not open.
    const tampered = new URL(callbackUrl);
    const st = tampered.searchParams.get('state') ?? '';
    tampered.searchParams.set('state', `${st.slice(0, -3)}${st.at(-3) === 'A' ? 'B' : 'A'}${st.slice(-2)}`);
    expect((await page.goto(tampered.href))?.status()).toBe(400);
    // A used connect link does not start a second flow.
    const again = await fetch(`${gwUrl}/connections/start`, {
      method: 'POST',
      headers: { origin: gwUrl, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ t: new URL(link).searchParams.get('t') ?? '' }).toString(),
      redirect: 'manual',
    });
    expect(again.status).toBe(409);
  });

  it('refreshes a token the upstream refuses mid-session (401) and retries the call', async () => {
    const before = jti((await call(alice, 'notes__whoami')).text);
    const bobBefore = jti((await call(bob, 'notes__whoami')).text);
    const refreshes = (await stats()).refresh_token ?? 0;
    await control('reject', 'alice@idp');
    const after = await call(alice, 'notes__whoami');
    expect(sub(after.text)).toBe('alice@idp');
    expect(jti(after.text)).not.toBe(before);
    expect((await stats()).refresh_token).toBe(refreshes + 1);
    expect(jti((await call(bob, 'notes__whoami')).text)).toBe(bobBefore);
  });

  it('uses a token for half its life (not a refresh per call), then refreshes it with a dynamically registered client', async () => {
    const link = await linkFor(alice, 'fresh__whoami');
    // Alice is still logged in at the provider: no form this time.
    expect(await authorize(alicePage, link.url, 'alice@idp')).toBe('Connected fresh');
    // The catalog session connects with her token once she is connected; a call before it has the
    // tools is -32050 "its tools are not known yet" (the flake this wait removes).
    await waitUntil(async () => (await alice.listTools()).tools.some((t) => t.name === 'fresh__whoami'), 30_000);
    const refreshes = (await stats()).refresh_token ?? 0;
    const first = await call(alice, 'fresh__whoami');
    const second = await call(alice, 'fresh__whoami');
    expect(sub(first.text)).toBe('alice@idp');
    // The provider's 1 h tokens live less than twice `refresh_before: 2h`: refreshed half their
    // lifetime ahead of expiry (30 min in), not on every call as the lead alone would have it.
    expect(jti(second.text)).toBe(jti(first.text));
    expect((await stats()).refresh_token ?? 0).toBe(refreshes);
    // Refused by the upstream (401): refreshed with the registered client, the call sent again.
    await control('reject', 'alice@idp');
    const third = await call(alice, 'fresh__whoami');
    expect(sub(third.text)).toBe('alice@idp');
    expect(jti(third.text)).not.toBe(jti(first.text));
    expect((await stats()).refresh_token).toBeGreaterThanOrEqual(refreshes + 1);
  });

  it("a user revokes a connection on their page; another user's stays", async () => {
    await alicePage.goto(aliceLinks.connections);
    expect(await alicePage.textContent('#who')).toBe('alice');
    await alicePage.click('button.revoke[data-upstream="notes"]');
    await alicePage.waitForLoadState();
    expect(await alicePage.locator('button.revoke[data-upstream="notes"]').count()).toBe(0);
    expect((await call(alice, 'notes__whoami')).code).toBe(-32042);
    expect(sub((await call(bob, 'notes__whoami')).text)).toBe('bob@idp');
    // The admin lists who connected what, never a token.
    const res = await fetch(`${gwUrl}/admin/api/connections`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = await res.text();
    const list = (JSON.parse(body) as { connections: { upstream: string; agent: string }[] }).connections;
    expect(list.map((c) => `${c.upstream}:${c.agent}`).sort()).toEqual(['fresh:alice', 'notes:bob', 'notes:mallory']);
    expect(body).not.toMatch(/eyJ|access|refresh/i);
  });

  it('a refresh the provider refuses turns into a new authorization link', async () => {
    await control('drop-refresh', 'bob@idp');
    await control('reject', 'bob@idp');
    const r = await call(bob, 'notes__whoami');
    expect(r.code).toBe(-32042);
    const els = (r.data?.elicitations ?? []) as { url: string }[];
    expect(String(els[0]?.url)).toContain('/connections/start?t=');
    expect(sub((await call(mallory, 'notes__whoami')).text)).toBe('mallory@idp');
  });

  it('per-agent secrets: each agent (or its group) reaches the upstream with its own key', async () => {
    const a = await call(alice, 'team__whoami');
    expect(sub(a.text)).toBe('static-alice');
    expect(a.text).toContain('team=red');
    const carol = await agent(await jwtFor('carol', ['blue']));
    expect(sub((await call(carol, 'team__whoami')).text)).toBe('static-blue');
    expect((await call(bob, 'team__whoami')).code).toBe(-32041);
  });

  it("token exchange: the agent's JWT is exchanged for a token of the upstream's audience", async () => {
    const dave = await agent(await jwtFor('dave', []));
    const r = await call(dave, 'exch__whoami');
    expect(sub(r.text)).toBe('dave');
    expect((await stats())['urn:ietf:params:oauth:grant-type:token-exchange']).toBeGreaterThanOrEqual(1);
    // An API key is no token to exchange.
    expect((await call(alice, 'exch__whoami')).code).toBe(-32041);
  });

  it('keeps tokens out of the vault file, the audit log and other upstreams', () => {
    const vault = join(dir, 'vault.json');
    expect(statSync(vault).mode & 0o777).toBe(0o600);
    // A JWT begins with its JOSE header ({"alg"… or {"typ"…); a bare `eyJ` turns up in about one
    // run in 70 by chance in the vault's ciphertexts (a full run failed that way).
    const jwt = /eyJhbGci|eyJ0eXAi|eyJraWQi/;
    expect(readFileSync(vault, 'utf8')).not.toMatch(jwt);
    expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8')).not.toMatch(/eyJhbGci|eyJ0eXAi|eyJraWQi|static-alice/);
  });
});

function jwtFor(subject: string, groups: string[]): Promise<string> {
  return new SignJWT({ groups })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('test-agents')
    .setAudience('tollgate-test')
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SUBJECT_SECRET));
}
