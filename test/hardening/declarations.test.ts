// Hardening: what a client declares at initialize is capped (8 KiB serialized for clientInfo and
// for capabilities), and the sealed Mcp-Session-Id stays small (≤ 2 KB) whatever it declares.
// Before: 3.6 MB of declarations made a 4.8 MB session id and ~9 MiB of memory per session.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, ClientCapabilities, Implementation } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { modernHeaders } from '../helpers/raw-session.js';
import { waitUntil } from '../helpers/wait.js';
import { SessionSealer } from '../../src/mcp/session-seal.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const KEY = randomBytes(32);
let gw: TestGateway;
const clients: Client[] = [];

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  lines: { transport: stdio, command: ${process.execPath}, args: [${nodeArgsYaml('test/fixtures/line-server.ts')}], cwd: ${resolve('.')}, timeouts: { connect: 60s } }
sessions: { seal_keys: ["${KEY.toString('base64')}"] }
${authYaml()}`);
  await waitUntil(() => gw.gw.upstreams.every((u) => u.state === 'ready'), 90_000);
}, 120_000);
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await gw?.close();
});

/** The SDK client as an agent declaring `info` and `capabilities`; the session id it got. */
async function initialize(
  info: Implementation,
  capabilities: ClientCapabilities,
): Promise<{ client: Client; sessionId: string } | { code?: number; message: string }> {
  const client = new Client(info, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${TEST_KEY}` } },
  });
  try {
    await client.connect(transport);
  } catch (err) {
    // The SDK reports an HTTP error status with the body: the JSON-RPC error is in it.
    const message = (err as Error).message;
    const rpc = /\{.*\}/s.exec(message)?.[0];
    const error = rpc ? (JSON.parse(rpc) as { error?: { code: number; message: string } }).error : undefined;
    return { code: error?.code ?? (err as { code?: number }).code, message: error?.message ?? message };
  }
  clients.push(client);
  return { client, sessionId: transport.sessionId as string };
}

describe('initialize declarations', () => {
  it('a clientInfo over 8 KiB is refused with -32602 naming the cap', async () => {
    const r = await initialize({ name: 'big', version: '1', title: 't'.repeat(10_000) }, {});
    expect('code' in r && r.code).toBe(-32602);
    expect((r as { message: string }).message).toMatch(
      /Invalid params: clientInfo is 10\d\d\d bytes serialized; at most 8192 are accepted/,
    );
  });

  it('3.6 MB of capabilities are refused with -32602 naming the cap', async () => {
    const r = await initialize(
      { name: 'c', version: '1' },
      { experimental: { blob: { data: 'z'.repeat(3_600_000) } } },
    );
    expect('code' in r && r.code).toBe(-32602);
    expect((r as { message: string }).message).toMatch(/capabilities is 36\d{5} bytes serialized; at most 8192/);
  });

  it('big-ish but allowed declarations (7 KiB each) give a sealed id ≤ 2 KB that still carries the capabilities used', async () => {
    const r = await initialize(
      { name: 'agent-with-a-long-name', version: '1.2.3', title: 't'.repeat(7000) },
      {
        roots: { listChanged: true },
        sampling: {},
        elicitation: { form: {}, url: {} },
        experimental: { vendor: { notes: 'n'.repeat(7000) } },
      },
    );
    if (!('client' in r)) throw new Error(`refused: ${r.message}`);
    console.log(`[hardening] sealed session id: ${r.sessionId.length} characters`);
    expect(r.sessionId.length).toBeLessThanOrEqual(2048);
    const claims = new SessionSealer([KEY], 60_000).open(r.sessionId);
    expect(claims?.clientInfo).toEqual({ name: 'agent-with-a-long-name', version: '1.2.3' });
    expect(claims?.capabilities).toMatchObject({
      roots: { listChanged: true },
      sampling: {},
      elicitation: { form: {}, url: {} },
    });
    const res = (await r.client.callTool({ name: 'lines__echo', arguments: { text: 'ok' } })) as CallToolResult;
    expect((res.content[0] as { text: string }).text).toMatch(/: ok$/);
  });

  it('a 2026 request whose envelope declares over 8 KiB is refused with -32602; a normal envelope is served', async () => {
    const post = (caps: Record<string, unknown>) =>
      fetch(`${gw.url}/mcp`, {
        method: 'POST',
        headers: modernHeaders(TEST_KEY, 'tools/list'),
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 9,
          method: 'tools/list',
          params: {
            _meta: {
              'io.modelcontextprotocol/protocolVersion': '2026-07-28',
              'io.modelcontextprotocol/clientCapabilities': caps,
              'io.modelcontextprotocol/clientInfo': { name: 'modern', version: '1' },
            },
          },
        }),
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { error?: { code: number; message: string } },
      }));
    const big = await post({ experimental: { blob: 'b'.repeat(9000) } });
    expect(big.status).toBe(400);
    expect(big.body.error?.code).toBe(-32602);
    expect(big.body.error?.message).toMatch(/clientCapabilities"\] is 90\d\d bytes serialized; at most 8192/);
    expect((await post({ roots: {} })).status).toBe(200);
  });
});
