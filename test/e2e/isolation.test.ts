// per_session isolation: each agent session gets its own upstream session, with its own client
// capabilities, so server-to-client requests such as roots/list reach exactly that agent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListRootsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const EVERYTHING = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';
const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  ev:
    transport: stdio
    command: node
    args: [${EVERYTHING}, stdio]
    isolation: per_session
    max_sessions: 2
${authYaml({ alice: 'alice-key-0123456789', bob: 'bob-key-0123456789' })}`);
});
afterAll(() => gw?.close());

async function agentWithRoots(key: string, root: string) {
  const c = await connect(`${gw.url}/mcp/ev`, { key, capabilities: { roots: { listChanged: true } } });
  c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: root, name: root }] }));
  return c;
}

/** DELETE the session (Client.close alone leaves it to expire). */
async function endSession(c: Client): Promise<void> {
  await (c.transport as StreamableHTTPClientTransport).terminateSession();
  await c.close();
}

describe('isolation: per_session', () => {
  it('asks each agent for its own roots', async () => {
    const alice = await agentWithRoots('alice-key-0123456789', 'file:///home/alice');
    const bob = await agentWithRoots('bob-key-0123456789', 'file:///home/bob');
    const a = textOf(await alice.callTool({ name: 'get-roots-list', arguments: {} }));
    const b = textOf(await bob.callTool({ name: 'get-roots-list', arguments: {} }));
    expect(a).toContain('file:///home/alice');
    expect(a).not.toContain('bob');
    expect(b).toContain('file:///home/bob');
    expect(b).not.toContain('alice');
    await endSession(alice);
    await endSession(bob);
  });

  it('enforces max_sessions with a clear error, and frees a slot when a session ends', async () => {
    const clients = [];
    for (let i = 0; i < 2; i++) {
      const c = await connect(`${gw.url}/mcp/ev`, { key: 'alice-key-0123456789' });
      await c.callTool({ name: 'echo', arguments: { message: String(i) } });
      clients.push(c);
    }
    const third = await connect(`${gw.url}/mcp/ev`, { key: 'alice-key-0123456789' });
    await expect(third.callTool({ name: 'echo', arguments: { message: 'x' } })).rejects.toThrow(/session cap/);
    await endSession(clients[0]!);
    const r = await third.callTool({ name: 'echo', arguments: { message: 'now' } });
    expect(textOf(r)).toContain('now');
    for (const c of [...clients, third]) await c.close();
  });
});
