// stdio process pool, isolation per_agent: one process per agent, a cap on processes, idle ones
// reaped, and a restarted process gets the agent's subscriptions back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { liveProcesses } from '../../src/upstream/stdio-channel.js';

let gw: TestGateway;
const clients: Client[] = [];
const KEYS = { alice: 'alice-key-0123456789', bob: 'bob-key-0123456789', carol: 'carol-key-0123456789' };
const agent = async (name: keyof typeof KEYS): Promise<Client> => {
  const c = await connect(`${gw.url}/mcp`, { key: KEYS[name] });
  clients.push(c);
  return c;
};
const echo = async (c: Client) => ((await c.callTool({ name: 'feat__echo', arguments: { text: 'x' } })) as CallToolResult).content;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  feat:
    transport: stdio
    command: node
    args: [--import, tsx, test/fixtures/feature-server.ts, --stdio]
    isolation: per_agent
    max_sessions: 2
    idle_timeout: 1s
${authYaml(KEYS)}`);
}, 30_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gw?.close();
});

describe('stdio pool (per_agent)', () => {
  it('starts one process per agent, caps them, and reaps idle ones', async () => {
    const base = liveProcesses(); // the gateway's own process for the catalog
    const [a1, a2, b] = [await agent('alice'), await agent('alice'), await agent('bob')];
    await echo(a1);
    await echo(a2);
    expect(liveProcesses()).toBe(base + 1); // both alice sessions share alice's process
    await echo(b);
    expect(liveProcesses()).toBe(base + 2);
    const c = await agent('carol');
    await expect(echo(c)).rejects.toThrow(/session cap \(2\)/);
    // Idle processes end after idle_timeout; then carol gets one.
    await waitUntil(() => liveProcesses() === base, 10_000);
    await echo(c);
    expect(liveProcesses()).toBe(base + 1);
  }, 30_000);
});
