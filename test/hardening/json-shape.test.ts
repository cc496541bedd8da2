// Hardening: one request must not stall the others. A body nested 1.9 M levels deep or carrying
// 220 000 keys is refused with -32600 before it is parsed (V8 takes seconds on such bodies, and
// every later walk recurses), while another agent's calls are answered. Upstream messages have
// the same bounds: a too-deep stdio answer fails its call with -32052 instead of timing it out.
import { nodeArgsYaml } from '../helpers/compiled.js';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';

let gw: TestGateway;
let other: Client;
let session: string;
const headers = () => ({
  authorization: `Bearer ${TEST_KEY}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
});

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  lines: { transport: stdio, command: ${process.execPath}, args: [${nodeArgsYaml('test/fixtures/line-server.ts')}], cwd: ${resolve('.')}, timeouts: { connect: 60s, request: 10s } }
server: { max_body_bytes: 8388608 }
${authYaml()}`);
  await waitUntil(() => gw.gw.upstreams.every((u) => u.state === 'ready'), 90_000);
  other = await connect(`${gw.url}/mcp`);
  const r = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  session = r.headers.get('mcp-session-id') as string;
  expect(session).toBeTruthy();
}, 120_000);
afterAll(async () => {
  await other?.close();
  await gw?.close();
});

async function post(body: string): Promise<{ status: number; error?: { code: number; message: string } }> {
  const r = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { ...headers(), 'mcp-session-id': session },
    body,
  });
  const j = (await r.json()) as { error?: { code: number; message: string } };
  return { status: r.status, error: j.error };
}
const callWith = (args: string) =>
  `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lines__echo","arguments":${args}}}`;
const otherCall = async (text: string) =>
  ((await other.callTool({ name: 'lines__echo', arguments: { text } })) as CallToolResult).content[0];

describe('bodies over the JSON shape limits', () => {
  it('1.9 M nested levels (3.8 MB), four at once: -32600 each, and another agent is answered meanwhile', async () => {
    const deep = callWith(`${'['.repeat(1_900_000)}${']'.repeat(1_900_000)}`);
    const [meanwhile, ...bad] = await Promise.all([otherCall('a'), post(deep), post(deep), post(deep), post(deep)]);
    expect(meanwhile).toMatchObject({ text: expect.stringMatching(/: a$/) });
    for (const r of bad) {
      expect(r.status).toBe(400);
      expect(r.error).toEqual({ code: -32600, message: 'Invalid Request: message nests deeper than 128 levels' });
    }
  }, 60_000);

  it('200 levels (within the former 256) are refused too', async () => {
    const r = await post(callWith(`${'{"a":'.repeat(200)}1${'}'.repeat(200)}`));
    expect(r.error?.code).toBe(-32600);
    expect(r.error?.message).toMatch(/deeper than 128 levels/);
  });

  it('220 000 keys in one object: -32600 naming the per-object cap, and another agent is answered', async () => {
    const keys = `{${Array.from({ length: 220_000 }, (_, i) => `"k${i}":1`).join(',')}}`;
    const [meanwhile, r] = await Promise.all([otherCall('b'), post(callWith(keys))]);
    expect(meanwhile).toMatchObject({ text: expect.stringMatching(/: b$/) });
    expect(r.error).toEqual({
      code: -32600,
      message: 'Invalid Request: an object in the message has more than 10000 keys',
    });
  }, 60_000);

  it('220 000 values spread over small objects: -32600 naming the total cap', async () => {
    const spread = `[${Array.from({ length: 2200 }, () => `{${Array.from({ length: 100 }, (_, i) => `"k${i}":1`).join(',')}}`).join(',')}]`;
    const r = await post(callWith(`{"rows":${spread}}`));
    expect(r.error?.code).toBe(-32600);
    expect(r.error?.message).toMatch(/more than 100000 values/);
  });

  it('a normal call on the same session still works', async () => {
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...headers(), 'mcp-session-id': session },
      body: callWith('{"text":"ok"}'),
    });
    expect(await r.text()).toMatch(/: ok/);
  });
});

describe('upstream messages over the JSON shape limits', () => {
  it('a stdio answer nested 200 levels fails its call with -32052 at once (not at the 10 s deadline); the next call works', async () => {
    const err = await other.callTool({ name: 'lines__nested', arguments: { levels: 200 } }).then(
      () => undefined,
      (e: { code?: number; message: string }) => e,
    );
    expect(err?.code).toBe(-32052);
    expect(err?.message).toMatch(/deeper than 128 levels/);
    expect(await otherCall('c')).toMatchObject({ text: expect.stringMatching(/: c$/) });
  }, 30_000);
});
