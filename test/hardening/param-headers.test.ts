// `Mcp-Param-*` headers (SEP-2243) mirror a tool's `x-mcp-header` arguments so that infrastructure in
// front of a 2026 server can route without reading the body. A 2026 agent's own `Mcp-Param-*` headers
// are passed on (the spec asks proxies to), but for a parameter the tool declares, the header must
// say what the body says: an agent must not route a call by a header the policy never judged.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';

const V = '2026-07-28';
let gw: TestGateway;
let upstream: Server;
/** What the upstream received with each tools/call. */
const calls: { headers: IncomingHttpHeaders; args: unknown }[] = [];

beforeAll(async () => {
  // A minimal 2026 server: one tool whose `region` argument travels as `Mcp-Param-Region` too.
  upstream = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const m = JSON.parse(Buffer.concat(chunks).toString() || '{}') as {
      id?: number;
      method?: string;
      params?: { arguments?: unknown };
    };
    const reply = (result: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
    };
    if (m.method === 'server/discover')
      return reply({
        supportedVersions: [V],
        capabilities: { tools: {} },
        _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'routed', version: '1' } },
      });
    if (m.method === 'tools/list')
      return reply({
        tools: [
          {
            name: 'route',
            inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } },
          },
        ],
      });
    if (m.method === 'tools/call') {
      calls.push({ headers: req.headers, args: m.params?.arguments });
      return reply({ content: [{ type: 'text', text: 'routed' }] });
    }
    res.writeHead(404).end(); // subscriptions/listen and the rest: not offered
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  gw = await startGateway(`
upstreams:
  h: { transport: streamable_http, url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp", protocol: "2026" }
auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }
`);
});
afterAll(async () => {
  await gw?.close();
  await new Promise((r) => upstream?.close(r));
});

/** A 2026 tools/call of h__route with these arguments and the agent's own headers. */
async function route(args: Record<string, unknown>, headers: Record<string, string>): Promise<void> {
  const r = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_KEY}`,
      'content-type': 'application/json',
      accept: 'application/json',
      'mcp-protocol-version': V,
      'mcp-method': 'tools/call',
      'mcp-name': 'h__route',
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'h__route',
        arguments: args,
        _meta: { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {} },
      },
    }),
  });
  expect(await r.json()).toMatchObject({ result: { content: [{ text: 'routed' }] } });
}

describe('Mcp-Param-* headers of declared parameters', () => {
  it("are the body's: an agent's own header never stands in for a missing or non-primitive argument", async () => {
    await route({}, { 'mcp-param-region': 'victim', 'mcp-param-other': 'kept' });
    await route({ region: ['eu'] }, { 'mcp-param-region': 'victim' });
    await route({ region: 'eu' }, { 'mcp-param-region': 'victim' });
    expect(calls.map((c) => [c.args, c.headers['mcp-param-region']])).toEqual([
      [{}, undefined],
      [{ region: ['eu'] }, undefined],
      [{ region: 'eu' }, 'eu'],
    ]);
    // A parameter the tool does not declare is not the gateway's to judge: passed on unchanged.
    expect(calls[0]?.headers['mcp-param-other']).toBe('kept');
  });
});
