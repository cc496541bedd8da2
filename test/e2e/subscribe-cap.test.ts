// Resource subscriptions are capped per agent session (mcp.max_subscriptions_per_session): each one
// is kept on the session and, with sessions.shared, the whole list is republished to Redis and every
// instance on each subscribe, so one agent must not grow it without bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

let gw: TestGateway;
let agent: Client;
let other: Client;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
mcp: { max_subscriptions_per_session: 3 }
${authYaml()}`);
  agent = await connect(`${gw.url}/mcp`);
  other = await connect(`${gw.url}/mcp`);
});
afterAll(async () => {
  await agent?.close();
  await other?.close();
  await gw?.close();
});

const subscribe = (c: Client, uri: string) =>
  c.subscribeResource({ uri }).then(
    () => 'ok',
    (e: Error & { code?: number }) => `${e.code}: ${e.message}`,
  );

describe('resource subscriptions per session', () => {
  it('refuses a subscription past the cap with -32602, and takes one again after an unsubscribe', async () => {
    for (const n of [1, 2, 3]) expect(await subscribe(agent, `feat+mem://r${n}`)).toBe('ok');
    const refused = await subscribe(agent, 'feat+mem://r4');
    expect(refused).toMatch(/^-32602: .*too many resource subscriptions on this session \(limit 3\)/);
    // One already held is no new subscription.
    expect(await subscribe(agent, 'feat+mem://r2')).toBe('ok');
    // The cap is per session: another session has its own.
    expect(await subscribe(other, 'feat+mem://r4')).toBe('ok');
    await agent.unsubscribeResource({ uri: 'feat+mem://r1' });
    expect(await subscribe(agent, 'feat+mem://r4')).toBe('ok');
  });

  it('counts subscriptions still in flight', async () => {
    const c = await connect(`${gw.url}/mcp`);
    try {
      const all = await Promise.all([1, 2, 3, 4, 5].map((n) => subscribe(c, `feat+mem://p${n}`)));
      expect(all.filter((r) => r === 'ok')).toHaveLength(3);
      expect(all.filter((r) => r.startsWith('-32602'))).toHaveLength(2);
    } finally {
      await c.close();
    }
  });
});
