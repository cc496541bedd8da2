// A browser-based MCP client logging in through the gateway's own authorization server, as MCP
// Inspector's web UI does in direct-connection mode: a page on its own origin runs the MCP SDK's
// client (test/fixtures/browser-mcp-page.ts, bundled with esbuild) in real Chromium. Everything a
// page does cross-origin happens in the page: the 401, discovery, registration, the token exchange,
// the MCP session. The test only plays the user on the gateway's login and consent pages.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForBrowser } from '../helpers/browser-bundle.js';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';
import { codeFor, pkce, redeemCode, register } from '../helpers/oauth.js';
import { waitUntil } from '../helpers/wait.js';

const enabled = chromiumAvailable();
const ALICE = { name: 'alice', password: 'alice-browser-password-1' };
/** Generous: a loaded machine can take seconds per navigation; a passing test never waits for it. */
const STEP_MS = 30_000;

let gw: TestGateway & { auditFile: string };
let browser: { context: BrowserContext; close(): Promise<void> };
let script = '';
const servers: Server[] = [];

/** Serves the app (at / and its /oauth/callback), its script, and an empty page elsewhere on `host`; the port. */
async function pageServer(host: string): Promise<number> {
  const s = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://page').pathname;
    if (path === '/client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(script);
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    const app = path === '/' || path === '/oauth/callback';
    res.end(
      `<!doctype html><meta charset="utf-8"><title>MCP page</title><pre id="out"></pre>${
        app ? '<script type="module" src="/client.js"></script>' : ''
      }`,
    );
  });
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  return (s.address() as AddressInfo).port;
}

interface Outcome {
  state: string;
  step: string;
  at: string;
  error?: string;
  tools?: string[];
  echoed?: string;
  sessionId?: string;
  clientId?: string;
  token?: { access_token: string; scope?: string };
}

/** What the page's script reported once it finished (done or error), wherever the page is now. */
async function outcome(page: Page): Promise<Outcome> {
  const out = await page.waitForSelector('#out[data-state="done"], #out[data-state="error"]', { timeout: STEP_MS });
  return {
    state: (await out.getAttribute('data-state')) ?? '',
    ...(JSON.parse((await out.textContent()) ?? '{}') as object),
  } as Outcome;
}

/** Plays the user on the gateway's pages: logs in, checks what the consent page says, allows. */
async function logInAndAllow(page: Page, expectRedirectHost: string): Promise<void> {
  await page.waitForSelector('#username', { timeout: STEP_MS });
  await page.fill('#username', ALICE.name);
  await page.fill('#password', ALICE.password);
  await page.click('#login');
  await page.waitForSelector('#allow', { timeout: STEP_MS });
  expect(await page.textContent('#client-name')).toBe('Browser MCP page');
  expect(await page.textContent('#redirect-host')).toBe(expectRedirectHost);
  await page.click('#allow');
}

/** The audit records of tool calls made with `clientId`'s tokens. */
function auditedCalls(clientId: string): Record<string, unknown>[] {
  return readFileSync(gw.auditFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r['tollgate.auth.client'] === clientId && typeof r['gen_ai.tool.name'] === 'string');
}

/** An initialize with `token` sent from the page to `url`: the status and challenge the page can read, or the error. */
function initializeFromPage(
  page: Page,
  url: string,
  token: string,
): Promise<{ status?: number; challenge?: string | null; error?: string }> {
  return page.evaluate(
    async ({ url, token }) => {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'page', version: '1' } },
          }),
        });
        await res.body?.cancel();
        return { status: res.status, challenge: res.headers.get('www-authenticate') };
      } catch (e) {
        return { error: String(e) };
      }
    },
    { url, token },
  );
}

/** The page at `origin` started on `server` with `params`; the gateway's authorization URL it was sent to. */
async function startAt(page: Page, origin: string, params: Record<string, string>): Promise<URL> {
  await page.goto(`${origin}/?${new URLSearchParams(params)}`);
  await page.waitForURL((u) => u.href.startsWith(`${gw.url}/authorize?`), { timeout: STEP_MS });
  return new URL(page.url());
}

beforeAll(async () => {
  if (!enabled) return;
  const policies = join(tempDir('tollgate-browser-oauth-'), 'policies');
  mkdirSync(policies);
  writeFileSync(
    join(policies, 'alice.yaml'),
    'agent: browser-alice\nidentities: { oauth_subjects: [alice] }\ntools: { allow: ["feat__echo", "other__echo"] }\n',
  );
  const feature = nodeArgsYaml('test/fixtures/feature-server.ts');
  [gw, script, browser] = await Promise.all([
    startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${feature}, --stdio] }
  other: { transport: stdio, command: node, args: [${feature}, --stdio, --tag, other] }
auth:
  oauth:
    enabled: true
    users: [{ name: ${ALICE.name}, password: ${ALICE.password} }]
policies: { dir: ${policies}, watch: false }
`),
    bundleForBrowser('test/fixtures/browser-mcp-page.ts'),
    launchChromium(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  for (const s of servers) s.close();
});

describe.skipIf(!enabled)(
  'an MCP client in a browser page logs in through the gateway (Inspector, direct connection)',
  () => {
    it.each([
      { transport: 'http', path: '/mcp', resource: '/mcp' },
      // The legacy SSE endpoints' metadata names <base>/sse, the /mcp resource by another name.
      { transport: 'sse', path: '/sse', resource: '/sse' },
    ])(
      'over $transport from a loopback page: 401, discovery, registration, login, the code redeemed by the page, tools listed and called, audited under the user',
      async ({ transport, path, resource }) => {
        await browser.context.clearCookies();
        const port = await pageServer('127.0.0.1');
        const origin = `http://localhost:${port}`;
        const page = await browser.context.newPage();
        try {
          // The SDK sends the browser to the authorization endpoint the metadata named, for the resource
          // the protected resource metadata named, with PKCE, a state and the page's own callback.
          const asked = await startAt(page, origin, { server: `${gw.url}${path}`, tool: 'feat__echo', transport });
          expect(Object.fromEntries(asked.searchParams)).toMatchObject({
            response_type: 'code',
            redirect_uri: `${origin}/oauth/callback`,
            code_challenge_method: 'S256',
            resource: `${gw.url}${resource}`,
            scope: 'mcp',
          });
          await logInAndAllow(page, `localhost:${port}`);
          const seen = await outcome(page);
          expect(seen, JSON.stringify(seen)).toMatchObject({ state: 'done', at: `${origin}/` });
          expect(seen.tools).toEqual(['feat__echo', 'other__echo']);
          expect(seen.echoed).toBe('feat:from the page');
          if (transport === 'http') expect(seen.sessionId).toBeTruthy();
          expect(seen.token?.scope).toBe('mcp');

          // The call is on record as the user's agent, made through this page's client.
          const clientId = seen.clientId ?? '';
          await waitUntil(() => auditedCalls(clientId).length > 0, STEP_MS);
          expect(auditedCalls(clientId)[0]).toMatchObject({
            'gen_ai.tool.name': 'feat__echo',
            'gen_ai.agent.id': 'browser-alice',
            'tollgate.auth.method': 'oauth',
            'tollgate.auth.user': 'alice',
          });
        } finally {
          await page.close();
        }
      },
    );

    it('a token for one resource is refused on another, the page can read why, and its login survives the attempt', async () => {
      await browser.context.clearCookies();
      const port = await pageServer('127.0.0.1');
      const origin = `http://localhost:${port}`;
      const page = await browser.context.newPage();
      try {
        // A client asking for a token for the one server it talks to (the SDK's validateResourceURL),
        // which then tries the same login on another server of the gateway.
        const asked = await startAt(page, origin, {
          server: `${gw.url}/mcp/feat`,
          tool: 'echo',
          resource: 'server',
          other: `${gw.url}/mcp/other`,
        });
        expect(asked.searchParams.get('resource')).toBe(`${gw.url}/mcp/feat`);
        await logInAndAllow(page, `localhost:${port}`);
        const seen = await outcome(page);
        expect(seen, JSON.stringify(seen)).toMatchObject({
          state: 'done',
          tools: ['echo'],
          echoed: 'feat:from the page',
          // The SDK asked to refresh its token for the other server: refused (RFC 8707 invalid_target)...
          other: 'InvalidTargetError: resource differs from the one granted',
          // ...and the refresh token it still holds works for its own server (it used to be spent by
          // the refused request, so this refresh revoked the grant and sent the user back to log in).
          refreshed: 'AUTHORIZED',
          again: ['echo'],
        });
        const token = seen.token?.access_token ?? '';
        for (const elsewhere of [`${gw.url}/mcp/other`, `${gw.url}/mcp`]) {
          const refused = await initializeFromPage(page, elsewhere, token);
          expect(refused.status, elsewhere).toBe(401);
          expect(refused.challenge).toMatch(/^Bearer .*error="invalid_token"/);
          expect(refused.challenge).toContain('token is for another resource');
        }
      } finally {
        await page.close();
      }
    });

    it('a page from an origin the gateway does not admit cannot complete the flow', async () => {
      await browser.context.clearCookies();
      // 127.0.0.2: loopback, so a secure context with Web Crypto, but not an origin the guard admits.
      const port = await pageServer('127.0.0.2');
      const origin = `http://127.0.0.2:${port}`;
      const page = await browser.context.newPage();
      try {
        // As the Inspector starts: its first MCP request is refused before anything else runs, with
        // nothing the browser lets the page see. It never learns where to log in.
        const start = `${origin}/?${new URLSearchParams({ server: `${gw.url}/mcp`, tool: 'feat__echo' })}`;
        await page.goto(start);
        expect(await outcome(page)).toMatchObject({
          state: 'error',
          step: 'connect',
          error: 'TypeError: Failed to fetch',
          at: start,
        });

        // Nor can it use a token the user got for it some other way: the same token that works from a
        // loopback page is refused to this one.
        const clientId = (
          await register(gw.url, { redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' })
        ).body.client_id as string;
        const { verifier, challenge } = pkce();
        const resource = `${gw.url}/mcp`;
        const grant = { clientId, redirectUri: 'http://127.0.0.1:9/cb', resource };
        const code = await codeFor(gw.url, { ...grant, challenge }, ALICE);
        const token = (await redeemCode(gw.url, { ...grant, code, verifier })).body.access_token as string;
        expect(await initializeFromPage(page, resource, token)).toEqual({ error: 'TypeError: Failed to fetch' });
        const admitted = await browser.context.newPage();
        try {
          await admitted.goto(`http://localhost:${await pageServer('127.0.0.1')}/blank`);
          expect(await initializeFromPage(admitted, resource, token)).toMatchObject({ status: 200 });
        } finally {
          await admitted.close();
        }
      } finally {
        await page.close();
      }
    });
  },
);
