// isolation per_session over replicas: when a session's replica dies, its next request opens a new
// upstream session on another replica and subscribes it again to what the agent had subscribed to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect, nextNotification } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';

const FEATURE = 'test/fixtures/feature-server.ts';
const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;
const home = async (c: Client): Promise<string> =>
  textOf(await c.callTool({ name: 'feat__echo', arguments: { text: 'hi' } })).split(':')[0] ?? '';

let replicas: Record<string, Spawned>;
let gw: TestGateway;
let client: Client | undefined;

beforeAll(async () => {
  const [r1, r2] = await Promise.all([
    spawnListening([FEATURE, '--tag', 'r1']),
    spawnListening([FEATURE, '--tag', 'r2']),
  ]);
  replicas = { r1: r1!, r2: r2! };
  gw = await startGateway(`
upstreams:
  feat:
    transport: streamable_http
    isolation: per_session
    replicas:
      - url: http://127.0.0.1:${r1!.port}/mcp
      - url: http://127.0.0.1:${r2!.port}/mcp
    balance: { health_check: { interval: 100ms, timeout: 300ms, unhealthy_threshold: 1 } }
pins: { enabled: false }
${authYaml()}`);
});

afterAll(async () => {
  await client?.close();
  await gw?.close();
  await Promise.all(Object.values(replicas).map((r) => r.kill()));
});

describe('per_session over replicas', () => {
  it('moves a session off a dead replica with its subscriptions', async () => {
    client = await connect(`${gw.url}/mcp`);
    const first = await home(client);
    await client.subscribeResource({ uri: 'feat+mem://a' });
    await replicas[first]!.kill();
    const second = await home(client);
    expect(second).not.toBe(first);
    // The new upstream session was subscribed again: the replica's update reaches the agent. Its GET
    // stream opens beside its first POSTs, and an update sent before it is open has nowhere to go
    // (the server drops it): touch until one arrives.
    let arrived = false;
    const updated = nextNotification(client, 'notifications/resources/updated').then((n) => {
      arrived = true;
      return n;
    });
    for (let i = 0; i < 200 && !arrived; i++) await client.callTool({ name: 'feat__touch', arguments: {} });
    expect((await updated).params).toMatchObject({ uri: 'feat+mem://a' });
  });
});
