// The aggregate endpoint as an agent sees it: real npm MCP servers and our fixtures behind /mcp.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { connect, listAllTools, nextNotification } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { waitUntil } from '../helpers/wait.js';

const EVERYTHING = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';
const MEMORY = 'node_modules/@modelcontextprotocol/server-memory/dist/index.js';
const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;

let feat: Spawned;
let gw: TestGateway;
let client: Client;

beforeAll(async () => {
  feat = await spawnListening(['test/fixtures/feature-server.ts', '--port', '0', '--tag', 'http']);
  gw = await startGateway(
    `
mcp: { list_page_size: 7 }
upstreams:
  everything: { transport: stdio, command: node, args: [${process.cwd()}/${EVERYTHING}, stdio] }
  memory:
    transport: stdio
    command: node
    args: [${process.cwd()}/${MEMORY}]
    env: { MEMORY_FILE_PATH: /tmp/tollgate-test-memory-${process.pid}.jsonl }
  feat:
    transport: streamable_http
    url: http://127.0.0.1:${feat.port}/mcp
    headers: { x-upstream-secret: "\${FEAT_SECRET}" }
  featio:
    transport: stdio
    command: node
    args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio, --tag, stdio]
    cwd: ${process.cwd()}
${authYaml()}`,
    { FEAT_SECRET: 's3cret-from-env' },
  );
  // The gateway serves while upstreams still start (server-everything registers its tools only
  // after `initialized`): these tests read every catalog, so they start once all are in.
  await waitUntil(() => gw.gw.upstreams.every((u) => u.state === 'ready' && u.catalog.tools.length > 0), 30_000);
  await gw.gw.catalogsSettled(15_000);
  client = await connect(`${gw.url}/mcp`, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
    role: 'assistant',
    model: 'test-model',
    content: {
      type: 'text',
      text: `echo of ${(req.params.messages[0]?.content as { text: string } | undefined)?.text}`,
    },
  }));
}, 60_000);

afterAll(async () => {
  await client?.close();
  await gw?.close();
  await feat?.kill();
});

describe('aggregate endpoint /mcp', () => {
  it('lists every upstream tool, namespaced, across upstream pages and gateway pages', async () => {
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThan(1); // list_page_size 7 forces gateway pagination
    expect(names).toContain('everything__echo');
    expect(names).toContain('memory__create_entities');
    // The fixture serves 10 tools two per page: all of them arrive.
    expect(names.filter((n) => n.startsWith('feat__'))).toHaveLength(10);
    expect(names.filter((n) => n.startsWith('featio__'))).toHaveLength(10);
    expect(new Set(names).size).toBe(names.length);
  });

  it('routes tools/call by prefix, to real npm servers and fixtures', async () => {
    expect(textOf(await client.callTool({ name: 'feat__echo', arguments: { text: 'a' } }))).toBe('http:a');
    expect(textOf(await client.callTool({ name: 'featio__echo', arguments: { text: 'b' } }))).toBe('stdio:b');
    const echo = await client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } });
    expect(textOf(echo)).toContain('hi');
    await client.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [{ name: 'tollgate', entityType: 'gateway', observations: ['relays MCP'] }] },
    });
    const graph = await client.callTool({ name: 'memory__read_graph', arguments: {} });
    expect(JSON.stringify(graph)).toContain('relays MCP');
  });

  it('answers an unknown tool with a JSON-RPC error naming it', async () => {
    await expect(client.callTool({ name: 'nosuch__tool', arguments: {} })).rejects.toThrow(
      /unknown tool: nosuch__tool/,
    );
  });

  it('keeps equal resource URIs of two servers apart', async () => {
    const uris: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listResources(cursor ? { cursor } : {});
      uris.push(...page.resources.map((r) => r.uri));
      cursor = page.nextCursor;
    } while (cursor);
    expect(uris).toContain('feat+mem://a');
    expect(uris).toContain('featio+mem://a');
    const a = await client.readResource({ uri: 'feat+mem://a' });
    const b = await client.readResource({ uri: 'featio+mem://a' });
    expect(a.contents[0]).toMatchObject({ uri: 'feat+mem://a', text: 'http content of mem://a' });
    expect(b.contents[0]).toMatchObject({ uri: 'featio+mem://a', text: 'stdio content of mem://a' });
  });

  it('relays progress with the agent’s own token, over HTTP and stdio upstreams', async () => {
    for (const name of ['feat__slow', 'featio__slow']) {
      const seen: number[] = [];
      const r = await client.callTool({ name, arguments: { ms: 50 } }, undefined, {
        onprogress: (p) => seen.push(p.progress),
      });
      expect(textOf(r)).toMatch(/slow done/);
      expect(seen).toEqual([1, 2, 3, 4, 5]);
    }
  });

  it('relays sampling requests to the agent that caused them and routes the answer back', async () => {
    expect(textOf(await client.callTool({ name: 'feat__sample', arguments: { text: 'ping' } }))).toBe(
      'sampled:echo of ping',
    );
    expect(textOf(await client.callTool({ name: 'featio__sample', arguments: { text: 'pong' } }))).toBe(
      'sampled:echo of pong',
    );
  });

  it('tells a client without sampling that the agent does not support it', async () => {
    const plain = await connect(`${gw.url}/mcp`);
    await expect(plain.callTool({ name: 'feat__sample', arguments: {} })).rejects.toThrow(/does not support sampling/);
    await plain.close();
  });

  it('forwards cancellation to the upstream with the upstream’s request id', async () => {
    const ac = new AbortController();
    const call = client.callTool({ name: 'featio__slow', arguments: { ms: 5000 } }, undefined, {
      signal: ac.signal,
      onprogress: () => ac.abort(),
    });
    await expect(call).rejects.toThrow();
    // The fixture records the id in the cancellation it received; poll its tool until it has one.
    let seen = 'null';
    for (let i = 0; i < 50 && seen === 'null'; i++)
      seen = textOf(await client.callTool({ name: 'featio__last_cancelled', arguments: {} }));
    expect(seen).toMatch(/^\d+$/);
  });

  it('relays logging notifications, filtered by the session’s level', async () => {
    const lines: string[] = [];
    const prev = client.fallbackNotificationHandler;
    client.fallbackNotificationHandler = async (n) => {
      if (n.method === 'notifications/message') lines.push(String((n.params as { data: unknown }).data));
    };
    await client.setLoggingLevel('info');
    await client.callTool({ name: 'feat__log', arguments: {} });
    client.fallbackNotificationHandler = prev;
    expect(lines).toEqual(['http log line']);
  });

  it('re-fetches on list_changed and notifies the agent', async () => {
    const changed = nextNotification(client, 'notifications/tools/list_changed');
    await client.callTool({ name: 'feat__add_tool', arguments: { text: 'brand_new' } });
    await changed;
    expect(await listAllTools(client)).toContain('feat__brand_new');
    expect(textOf(await client.callTool({ name: 'feat__brand_new', arguments: {} }))).toBe('http:brand_new');
  });

  it('delivers resource updates for subscribed URIs, namespaced', async () => {
    await client.subscribeResource({ uri: 'feat+mem://a' });
    const updated = nextNotification(client, 'notifications/resources/updated');
    await client.callTool({ name: 'feat__touch', arguments: {} });
    expect((await updated).params).toMatchObject({ uri: 'feat+mem://a' });
    await client.unsubscribeResource({ uri: 'feat+mem://a' });
  });

  it('keeps the shared upstream subscription while another agent still holds it', async () => {
    const other = await connect(`${gw.url}/mcp`);
    try {
      await client.subscribeResource({ uri: 'feat+mem://a' });
      await other.subscribeResource({ uri: 'feat+mem://a' });
      await client.unsubscribeResource({ uri: 'feat+mem://a' });
      const updated = nextNotification(other, 'notifications/resources/updated');
      await client.callTool({ name: 'feat__touch', arguments: {} });
      expect((await updated).params).toMatchObject({ uri: 'feat+mem://a' });
    } finally {
      await other.close();
    }
  });

  it('sends configured upstream headers and never the agent’s token', async () => {
    const seen = JSON.parse(textOf(await client.callTool({ name: 'feat__headers', arguments: {} }))) as Record<
      string,
      string
    >;
    expect(seen['x-upstream-secret']).toBe('s3cret-from-env');
    expect(seen.authorization).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain('test-key');
  });

  it('passes X-Request-Id and a child traceparent to HTTP upstreams, and echoes the request id', async () => {
    const h = {
      authorization: `Bearer ${TEST_KEY}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const init = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
    });
    const sid = init.headers.get('mcp-session-id')!;
    const trace = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...h, 'mcp-session-id': sid, 'x-request-id': 'req-42', traceparent: trace },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'feat__headers', arguments: {} },
      }),
    });
    expect(r.headers.get('x-request-id')).toBe('req-42');
    const body = (await r.json()) as { result: CallToolResult };
    const seen = JSON.parse(textOf(body.result)) as Record<string, string>;
    expect(seen['x-request-id']).toBe('req-42');
    expect(seen.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(seen.traceparent).not.toBe(trace); // our own span
  });

  it('lists and gets prompts of the everything server, namespaced', async () => {
    const prompts = await client.listPrompts();
    const simple = prompts.prompts.find((p) => p.name.startsWith('everything__'));
    expect(simple).toBeDefined();
  });
});

describe('per-server endpoint /mcp/<server>', () => {
  it('shows one upstream un-prefixed and relays unknown methods to it', async () => {
    const one = await connect(`${gw.url}/mcp/feat`);
    const tools = await one.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('echo');
    expect(textOf(await one.callTool({ name: 'echo', arguments: { text: 'x' } }))).toBe('http:x');
    const { z } = await import('zod');
    const custom = await one.request(
      { method: 'custom/echo', params: { hello: 'world' } },
      z.object({ echoed: z.unknown(), by: z.string() }).passthrough(),
    );
    expect(custom).toMatchObject({ echoed: { hello: 'world' }, by: 'http' });
    await one.close();
  });
});

describe('legacy HTTP+SSE agents', () => {
  it('lists and calls tools over /sse', async () => {
    const old = await connect(`${gw.url}/sse`, { legacy: true });
    const tools = await old.listTools();
    expect(tools.tools.length).toBeGreaterThan(0);
    expect(textOf(await old.callTool({ name: 'feat__echo', arguments: { text: 'old' } }))).toBe('http:old');
    await old.close();
  });
});
