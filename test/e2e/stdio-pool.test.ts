// stdio process pool, isolation per_agent: one process per agent, a cap on processes, idle ones
// reaped (which frees a slot under the cap).
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { liveProcesses } from '../../src/upstream/stdio-channel.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const KEYS = { alice: 'alice-key-0123456789', bob: 'bob-key-0123456789', carol: 'carol-key-0123456789' };
let gw: TestGateway | undefined;
const clients: Client[] = [];

const start = async (maxSessions: number, idle: string) => {
  gw = await startGateway(`
upstreams:
  feat:
    transport: stdio
    command: node
    args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio]
    isolation: per_agent
    max_sessions: ${maxSessions}
    idle_timeout: ${idle}
${authYaml(KEYS)}`);
};
const agent = async (name: keyof typeof KEYS): Promise<Client> => {
  const c = await connect(`${gw!.url}/mcp`, { key: KEYS[name] });
  clients.push(c);
  return c;
};
const echo = async (c: Client) =>
  ((await c.callTool({ name: 'feat__echo', arguments: { text: 'x' } })) as CallToolResult).content;

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await gw?.close();
});

describe('stdio pool (per_agent)', () => {
  it('starts one process per agent and caps them', async () => {
    await start(2, '1h');
    const base = liveProcesses(); // the gateway's own process, for the catalog
    const [a1, a2, b] = [await agent('alice'), await agent('alice'), await agent('bob')];
    await echo(a1);
    await echo(a2);
    expect(liveProcesses()).toBe(base + 1); // both alice sessions share alice's process
    await echo(b);
    expect(liveProcesses()).toBe(base + 2);
    await expect(echo(await agent('carol'))).rejects.toThrow(/session cap \(2\)/);
  });

  it('ends idle processes, which frees their slot', async () => {
    await start(1, '1s');
    const base = liveProcesses();
    await echo(await agent('alice'));
    expect(liveProcesses()).toBe(base + 1);
    await waitUntil(() => liveProcesses() === base, 10_000);
    await echo(await agent('carol'));
    expect(liveProcesses()).toBe(base + 1);
  });
});
