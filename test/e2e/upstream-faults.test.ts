// Upstreams that die, hang or never come up must not take the others down, and must come back.
import { createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect, listAllTools } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;
const FIXTURE = `args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio]`;

let gw: TestGateway;
let client: Client;
let legacy: ChildProcess;
let legacyPort: number;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  legacyPort = await freePort();
  legacy = spawn(process.execPath, ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'sse'], {
    env: { ...process.env, PORT: String(legacyPort) },
    stdio: 'ignore',
  });
  gw = await startGateway(`
upstreams:
  crashy: { transport: stdio, command: node, ${FIXTURE} }
  steady: { transport: stdio, command: node, ${FIXTURE} }
  hasty:
    transport: stdio
    command: node
    ${FIXTURE}
    timeouts: { request: 1s }
  down: { transport: streamable_http, url: "http://127.0.0.1:1/mcp", timeouts: { connect: 500ms } }
  legacy: { transport: sse, url: "http://127.0.0.1:${legacyPort}/sse" }
${authYaml()}`);
  client = await connect(`${gw.url}/mcp`);
});

afterAll(async () => {
  await client?.close();
  await gw?.close();
  legacy?.kill('SIGKILL');
});

const toolNames = (): Promise<string[]> => listAllTools(client);

describe('upstream faults', () => {
  it('an unreachable upstream contributes no tools and answers a clear error; the others work', async () => {
    const names = await toolNames();
    expect(names.some((n) => n.startsWith('down__'))).toBe(false);
    expect(names).toContain('steady__echo');
    await expect(client.callTool({ name: 'down__anything', arguments: {} })).rejects.toThrow(
      /-32050.*down is unavailable/,
    );
  });

  it('reports readiness: ready while one upstream is, and says which are down', async () => {
    const r = await fetch(`${gw.url}/readyz`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { ready: boolean; upstreams: Record<string, { state: string; error?: string }> };
    expect(body.ready).toBe(true);
    expect(body.upstreams.steady).toEqual({ state: 'ready' });
    expect(body.upstreams.down?.state).toBe('down');
    expect(body.upstreams.down?.error).toMatch(/ECONNREFUSED|reach/);
    expect((body as unknown as { limits: unknown }).limits).toEqual({ store: 'memory', state: 'healthy' });
    const lonely = await startGateway(
      `upstreams:\n  down: { transport: streamable_http, url: "http://127.0.0.1:1/mcp", timeouts: { connect: 200ms } }\n${authYaml()}`,
    );
    const r2 = await fetch(`${lonely.url}/readyz`);
    expect(r2.status).toBe(503);
    expect(await r2.json()).toMatchObject({ ready: false, reason: 'no upstream is ready' });
    await lonely.close();
  });

  it('a crashed stdio server is restarted and its tools come back, while the others keep working', async () => {
    await client.callTool({ name: 'crashy__crash', arguments: {} });
    await waitUntil(() => gw.gw.upstreams.find((u) => u.name === 'crashy')?.state !== 'ready');
    expect(textOf(await client.callTool({ name: 'steady__echo', arguments: { text: 'still' } }))).toBe('feat:still');
    await expect(client.callTool({ name: 'crashy__echo', arguments: { text: 'x' } })).rejects.toThrow(/-32050/);
    await waitUntil(() => gw.gw.upstreams.find((u) => u.name === 'crashy')?.state === 'ready', 10_000);
    expect(textOf(await client.callTool({ name: 'crashy__echo', arguments: { text: 'back' } }))).toBe('feat:back');
  });

  it('times out a silent upstream call with -32001, and progress keeps a long call alive', async () => {
    await expect(client.callTool({ name: 'hasty__slow', arguments: { ms: 10_000 } })).rejects.toThrow(/-32001/);
    // 2.5 s in total but progress every 500 ms: each progress re-arms the 1 s deadline (half of it
    // spare, so a loaded machine's late timer does not end the call).
    const r = await client.callTool({ name: 'hasty__slow', arguments: { ms: 2500 } }, undefined, {
      onprogress: () => undefined,
    });
    expect(textOf(r)).toBe('feat:slow done');
  });

  it('relays a legacy HTTP+SSE upstream (server-everything over SSE)', async () => {
    await waitUntil(() => gw.gw.upstreams.find((u) => u.name === 'legacy')?.state === 'ready', 15_000);
    const r = await client.callTool({ name: 'legacy__echo', arguments: { message: 'over sse' } });
    expect(textOf(r)).toContain('over sse');
  });
});
