// Upstream replicas: sessions spread over replicas, stay on theirs, survive a replica's death,
// and bad replicas are ejected (never all of them) and come back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { waitUntil } from '../helpers/wait.js';

const FEATURE = 'test/fixtures/feature-server.ts';
const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;
const echo = async (c: Client): Promise<string> =>
  textOf(await c.callTool({ name: 'feat__echo', arguments: { text: 'hi' } })).split(':')[0] ?? '';

let r1: Spawned;
let r2: Spawned;
let gw: TestGateway;
const clients: Client[] = [];
const agent = async (): Promise<Client> => {
  const c = await connect(`${gw.url}/mcp`);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  [r1, r2] = await Promise.all([spawnListening([FEATURE, '--tag', 'r1']), spawnListening([FEATURE, '--tag', 'r2'])]);
  gw = await startGateway(`
upstreams:
  feat:
    transport: streamable_http
    replicas:
      - url: http://127.0.0.1:${r1.port}/mcp
      - url: http://127.0.0.1:${r2.port}/mcp
    timeouts: { request: 400ms }
    balance:
      strategy: least_sessions
      health_check: { interval: 100ms, timeout: 300ms, unhealthy_threshold: 1, healthy_threshold: 1 }
      outlier_detection: { consecutive_failures: 2, ejection: 3s, max_ejection_percent: 50 }
# The fixture's replicas describe their tools with their tag (r1, r2): to pinning, a failover to
# the other replica would be a changed definition.
pins: { enabled: false }
${authYaml()}`);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gw?.close();
  await Promise.all([r1?.kill(), r2?.kill()]);
});

const replicas = () => gw.gw.upstreams[0]!.replicas;

describe('upstream replicas', () => {
  it('least_sessions spreads new sessions over the replicas, and each session stays on its replica', async () => {
    const agents = await Promise.all([agent(), agent(), agent(), agent()]);
    const first = await Promise.all(agents.map(echo));
    expect(first.filter((t) => t === 'r1')).toHaveLength(2);
    expect(first.filter((t) => t === 'r2')).toHaveLength(2);
    expect(await Promise.all(agents.map(echo))).toEqual(first);
    expect(replicas().map((r) => r.assigned)).toEqual([2, 2]);
    // One catalog, not one per replica.
    expect((await agents[0]!.listTools()).tools.filter((t) => t.name === 'feat__echo')).toHaveLength(1);
  });

  it('a session whose replica dies gets a clear error for its call in flight, then moves to the other replica', async () => {
    // Two new sessions on balanced replicas: one lands on each.
    const pair = [await agent(), await agent()];
    const homes = await Promise.all(pair.map(echo));
    expect(homes.sort()).toEqual(['r1', 'r2']);
    const c = pair[(await Promise.all(pair.map(echo))).indexOf('r1')]!;
    const inFlight = c.callTool({ name: 'feat__slow', arguments: { ms: 5000 } }, undefined, { timeout: 10_000 });
    inFlight.catch(() => undefined);
    await waitUntil(() => replicas()[0]!.shared!.inFlight > 0);
    await r1.kill();
    await expect(inFlight).rejects.toThrow();
    expect(await echo(c)).toBe('r2');
    expect((await c.listTools()).tools.map((t) => t.name)).toContain('feat__echo');

    // The replica comes back on its port: health checks bring it back into rotation.
    r1 = await spawnListening([FEATURE, '--tag', 'r1', '--port', String(new URL(replicas()[0]!.key).port)]);
    await waitUntil(() => replicas()[0]!.usable, 15_000);
    const fresh = await Promise.all([agent(), agent(), agent()]);
    expect(await Promise.all(fresh.map(echo))).toContain('r1');
  });

  it('consecutive failures eject a replica for a while, but never the last usable one', async () => {
    const c = await agent();
    const home = await echo(c);
    const other = home === 'r1' ? 'r2' : 'r1';
    const index = home === 'r1' ? 0 : 1;
    // Two timeouts in a row (request timeout 400 ms) eject the session's replica…
    for (let i = 0; i < 2; i++)
      await expect(c.callTool({ name: 'feat__slow', arguments: { ms: 2000 } })).rejects.toThrow(/did not answer/);
    expect(replicas()[index]!.ejected).toBe(true);
    // …so the session moves, while the other replica, now the only one, cannot be ejected.
    expect(await echo(c)).toBe(other);
    for (let i = 0; i < 2; i++)
      await expect(c.callTool({ name: 'feat__slow', arguments: { ms: 2000 } })).rejects.toThrow(/did not answer/);
    expect(replicas()[1 - index]!.ejected).toBe(false);
    expect(await echo(c)).toBe(other);
    // The ejection ends on its own.
    await waitUntil(() => replicas()[index]!.usable, 10_000);
  });
});
