// An agent running in a browser page (MCP Inspector's direct connection, a web chat client): real
// Chromium, the page served from its own origin, talking JSON-RPC to /mcp with fetch.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { MockLlm } from '../fixtures/mock-llm.js';

const enabled = chromiumAvailable();
let gw: TestGateway;
let llm: MockLlm;
let browser: { context: BrowserContext; close(): Promise<void> };
const pages: Server[] = [];

/** A server for the page itself, on `host`; returns the page's origin. */
async function pageServer(host: string): Promise<number> {
  const s = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>agent</title>');
  });
  pages.push(s);
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  return (s.address() as AddressInfo).port;
}

/** What the page's script sees of an MCP session it opens with fetch, or the error fetch threw. */
async function sessionFromPage(pageUrl: string, mcpUrl: string, key: string | undefined): Promise<unknown> {
  const page = await browser.context.newPage();
  try {
    if (pageUrl !== 'about:blank') await page.goto(pageUrl);
    return await page.evaluate(
      async ({ mcpUrl, key }) => {
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(key && { authorization: `Bearer ${key}` }),
        };
        const post = (h: Record<string, string>, body: unknown) =>
          fetch(mcpUrl, { method: 'POST', headers: h, body: JSON.stringify(body) });
        try {
          const init = await post(headers, {
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'page', version: '1' } },
          });
          const challenge = init.headers.get('www-authenticate');
          const sessionId = init.headers.get('mcp-session-id');
          if (!sessionId) return { status: init.status, challenge };
          const session = { ...headers, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
          await post(session, { jsonrpc: '2.0', method: 'notifications/initialized' });
          const list = await post(session, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
          const tools = ((await list.json()) as { result: { tools: { name: string }[] } }).result.tools;
          const call = await post(session, {
            jsonrpc: '2.0',
            id: 3,
            method: 'tools/call',
            params: { name: 'feat__echo', arguments: { text: 'from the page' } },
          });
          const closed = await fetch(mcpUrl, { method: 'DELETE', headers: session });
          return {
            status: init.status,
            tools: tools.map((t) => t.name),
            call: await call.text(),
            requestId: call.headers.get('x-request-id'),
            closed: closed.status,
          };
        } catch (e) {
          return { error: String(e) };
        }
      },
      { mcpUrl, key },
    );
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  if (!enabled) return;
  llm = await MockLlm.start();
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
llm:
  upstreams:
    oa: { kind: openai, base_url: "${llm.url}/v1", api_key: sk-upstream-secret, models: [gpt-4o] }
${authYaml()}`);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await llm?.close();
  for (const s of pages) s.close();
});

describe.skipIf(!enabled)('an agent in a browser page', () => {
  it('opens a session, lists and calls tools, and ends it from a loopback page', async () => {
    const port = await pageServer('127.0.0.1');
    const seen = (await sessionFromPage(`http://localhost:${port}/`, `${gw.url}/mcp`, TEST_KEY)) as {
      status: number;
      tools: string[];
      call: string;
      requestId: string | null;
      closed: number;
    };
    expect(seen).toMatchObject({ status: 200, closed: 200 });
    expect(seen.tools).toContain('feat__echo');
    expect(seen.call).toContain('from the page');
    expect(seen.requestId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a chat completion from the page, with the headers the OpenAI SDK adds in a browser', async () => {
    const port = await pageServer('127.0.0.1');
    const page = await browser.context.newPage();
    try {
      await page.goto(`http://localhost:${port}/`);
      const seen = await page.evaluate(
        async ({ url, key }) => {
          try {
            const r = await fetch(url, {
              method: 'POST',
              headers: {
                authorization: `Bearer ${key}`,
                'content-type': 'application/json',
                'x-stainless-lang': 'js',
                'x-stainless-os': 'Linux',
                'x-stainless-retry-count': '0',
              },
              body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi from the page' }] }),
            });
            const body = (await r.json()) as { choices?: { message: { content: string } }[] };
            return {
              status: r.status,
              requestId: r.headers.get('x-request-id'),
              text: body.choices?.[0]?.message.content,
            };
          } catch (e) {
            return { error: String(e) };
          }
        },
        { url: `${gw.url}/v1/chat/completions`, key: TEST_KEY },
      );
      // The upstream's own request id, passed through (readable: exposed to the page).
      expect(seen).toMatchObject({ status: 200, requestId: 'req_mock' });
      expect((seen as { text?: string }).text).toBeTruthy();
    } finally {
      await page.close();
    }
  });

  it('without a key the page can read where to log in', async () => {
    const port = await pageServer('127.0.0.1');
    const seen = await sessionFromPage(`http://localhost:${port}/`, `${gw.url}/mcp`, undefined);
    expect(seen).toMatchObject({ status: 401, challenge: expect.stringMatching(/^Bearer .*resource_metadata=/) });
  });

  it('a page from an origin the gateway does not admit gets nothing, even with the key', async () => {
    // about:blank's origin is opaque: its requests say `Origin: null`, which no config here admits.
    const seen = await sessionFromPage('about:blank', `${gw.url}/mcp`, TEST_KEY);
    expect(seen).toMatchObject({ error: expect.stringMatching(/Failed to fetch/) });
  });
});
