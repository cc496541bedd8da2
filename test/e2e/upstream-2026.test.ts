// Upstreams of either era: a 2026-only upstream (the v2-SDK fixture with its 2025 side off) reached
// by a 2025 agent (the v1 SDK client) and by a 2026 agent (the v2 SDK client), and a 2025 upstream
// reached by the v2 client. The gateway finds the era itself (protocol: auto).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startConformance2026Server } from '../fixtures/conformance2026-server.js';
import { startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { connect, nextNotification } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';

let only2026: Awaited<ReturnType<typeof startConformance2026Server>>;
let legacy: Spawned;
let gw: TestGateway;

beforeAll(async () => {
  only2026 = await startConformance2026Server(0, { only2026: true });
  legacy = await spawnListening(['test/fixtures/feature-server.ts', '--port', '0']);
  gw = await startGateway(`
upstreams:
  new: { transport: streamable_http, url: "${only2026.url}" }
  old: { transport: streamable_http, url: "http://127.0.0.1:${legacy.port}/mcp" }
auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }
`);
});
afterAll(async () => {
  await gw?.close();
  await legacy?.kill();
  await only2026?.close();
});

const text = (r: unknown): string => (r as { content: { type: string; text?: string }[] }).content[0]?.text ?? '';

async function modernClient(path: string, caps: Record<string, unknown> = {}): Promise<ModernClient> {
  const client = new ModernClient(
    { name: 'v2-agent', version: '2.0.0' },
    { capabilities: caps, versionNegotiation: { mode: 'auto' } },
  );
  await client.connect(
    new ModernTransport(new URL(`${gw.url}${path}`), {
      requestInit: { headers: { authorization: `Bearer ${TEST_KEY}` } },
    }),
  );
  return client;
}

describe('a 2025 agent (v1 SDK client) and a 2026-only upstream', () => {
  it('lists and calls: the catalog came from list calls, results lose the 2026-only fields', async () => {
    const client = await connect(`${gw.url}/mcp`);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('new__test_simple_text');
    const r = await client.callTool({ name: 'new__test_simple_text', arguments: {} });
    expect(text(r)).toMatch(/simple text/i);
    expect(r).not.toHaveProperty('resultType');
    const prompts = await client.listPrompts();
    expect(prompts.prompts.map((p) => p.name)).toContain('new__test_input_required_result_prompt');
    await client.close();
  });

  it('mirrors x-mcp-header arguments into Mcp-Param-* (the upstream checks them)', async () => {
    const client = await connect(`${gw.url}/mcp`);
    const tool = (await client.listTools()).tools.find((t) => JSON.stringify(t.inputSchema).includes('x-mcp-header'));
    expect(tool).toBeDefined();
    const r = await client.callTool({ name: tool?.name ?? '', arguments: { region: 'Zürich' } });
    expect(r.isError).toBeFalsy();
    expect(text(r)).toBe('region=Zürich');
    await client.close();
  });

  it('an input_required round becomes an elicitation request to the agent, then the retry completes', async () => {
    const client = await connect(`${gw.url}/mcp`, { capabilities: { elicitation: {} } });
    const asked: unknown[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params);
      return { action: 'accept', content: { name: 'Ada' } };
    });
    const r = await client.callTool({ name: 'new__test_input_required_result_elicitation', arguments: {} });
    expect(text(r)).toBe('Hello, Ada!');
    expect(asked).toHaveLength(1);
    await client.close();
  });

  it('two rounds and several requests per round (elicitation, sampling, roots) are all bridged', async () => {
    const client = await connect(`${gw.url}/mcp`, { capabilities: { elicitation: {}, roots: {} } });
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      const props = Object.keys(
        (req.params as { requestedSchema?: { properties?: object } }).requestedSchema?.properties ?? {},
      );
      return { action: 'accept', content: props.includes('color') ? { color: 'blue' } : { name: 'Ada' } };
    });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
    const multi = await client.callTool({ name: 'new__test_input_required_result_multi_round', arguments: {} });
    expect(text(multi)).toBe('Ada likes blue');
    const roots = await client.callTool({ name: 'new__test_input_required_result_list_roots', arguments: {} });
    expect(text(roots)).toBe('Client roots: file:///work');
    await client.close();
  });

  it('a capability the agent did not declare is a clear error naming it', async () => {
    const client = await connect(`${gw.url}/mcp`);
    await expect(client.callTool({ name: 'new__test_missing_capability', arguments: {} })).rejects.toThrow(/sampling/);
    await client.close();
  });

  it('list_changed from the upstream listen stream reaches the agent', async () => {
    const client = await connect(`${gw.url}/mcp`);
    const changed = nextNotification(client, 'notifications/tools/list_changed');
    await client.callTool({ name: 'new__test_trigger_tool_change', arguments: {} });
    await changed;
    await client.close();
  });
});

describe('a 2026 agent (v2 SDK client)', () => {
  it('against the 2026 upstream: discover, list, call, input_required passed through and answered by the client', async () => {
    const client = await modernClient('/mcp/new', { elicitation: {} });
    expect(client.getProtocolEra()).toBe('modern');
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Grace' } }));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('test_input_required_result_elicitation');
    const r = await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} });
    expect(text(r)).toBe('Hello, Grace!');
    await client.close();
  });

  it('against a 2025 upstream: the gateway speaks 2026 to the agent and 2025 upstream', async () => {
    const client = await modernClient('/mcp/old');
    expect(client.getProtocolEra()).toBe('modern');
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    const echo = tools.find((t) => t.name === 'echo');
    expect(echo).toBeDefined();
    const r = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(text(r)).toContain('hi');
    await client.close();
  });
});
