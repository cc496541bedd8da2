// Malformed input in the places issue 14 found: a name or URI that is not a string (was -32603
// internal for `{ "toString": 1 }`, "unknown tool: [object Object]" for others), and an upstream
// body shorter than its Content-Length (was reported as "exceeds 33554432 bytes").
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const FEATURE = resolve('test/fixtures/feature-server.ts');

/** A Streamable HTTP MCP server whose `short` tool answers with fewer bytes than its Content-Length. */
function shortBodyServer(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const msg = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { id?: number; method?: string };
      if (msg.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const answer = (result: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      };
      if (msg.method === 'initialize')
        return answer({
          protocolVersion: '2025-06-18',
          capabilities: { tools: {} },
          serverInfo: { name: 's', version: '1' },
        });
      if (msg.method === 'tools/list') return answer({ tools: [{ name: 'short', inputSchema: { type: 'object' } }] });
      const body = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [] } });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length + 500) });
      res.write(body);
      res.socket?.end(); // the connection closes 500 bytes short
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

let gw: TestGateway;
let upstream: Server;
beforeAll(async () => {
  upstream = await shortBodyServer();
  gw = await startGateway(`
upstreams:
  featio: { transport: stdio, command: node, args: [${nodeArgsYaml(FEATURE)}, --stdio], cwd: ${resolve('.')} }
  short: { transport: streamable_http, url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp" }
${authYaml()}`);
}, 30_000);
afterAll(async () => {
  await gw?.close();
  await new Promise((r) => upstream?.close(r));
});

describe('params that must be strings', () => {
  const H = {
    authorization: `Bearer ${TEST_KEY}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  let sid = '';
  const rpc = async (method: string, params: unknown) => {
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...H, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }),
    });
    return { status: r.status, body: (await r.json()) as { error?: { code: number; message: string } } };
  };

  beforeAll(async () => {
    const init = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: H,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    sid = init.headers.get('mcp-session-id') ?? '';
    expect(sid).not.toBe('');
  });

  it.each([
    ['tools/call', { name: { toString: 1 }, arguments: {} }, 'params.name'],
    ['tools/call', { name: { a: 1 }, arguments: {} }, 'params.name'],
    ['tools/call', { name: 5 }, 'params.name'],
    ['prompts/get', { name: ['featio__p'] }, 'params.name'],
    ['resources/read', { uri: { toString: 1 } }, 'params.uri'],
    ['completion/complete', { ref: { type: 'ref/prompt', name: { toString: 1 } }, argument: {} }, 'params.ref.name'],
  ])('%s with %j: -32602 naming the param', async (method, params, where) => {
    const r = await rpc(method, params);
    expect(r.body.error).toEqual({ code: -32602, message: `Invalid params: ${where} must be a string` });
  });

  it('logging/setLevel with an object level: -32602, not internal', async () => {
    const r = await rpc('logging/setLevel', { level: { toString: 1 } });
    expect(r.body.error).toEqual({ code: -32602, message: 'unknown log level: object' });
  });
});

describe('an upstream body shorter than its Content-Length', () => {
  it('is reported as an incomplete response (-32052), not as over the size cap', async () => {
    const c = await connect(`${gw.url}/mcp`);
    try {
      const err = await c.callTool({ name: 'short__short', arguments: {} }).then(
        (r: unknown) => r as CallToolResult,
        (e: { code: number; message: string }) => e,
      );
      expect(err).toMatchObject({ code: -32052 });
      expect((err as { message: string }).message).toMatch(/incomplete/);
      expect((err as { message: string }).message).not.toMatch(/exceeds/);
    } finally {
      await c.close();
    }
  });
});
