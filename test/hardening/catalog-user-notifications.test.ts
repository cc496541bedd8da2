// An oauth upstream without `catalog_headers` is listed through a shared (catalog) session that
// carries the first connected user's token: that session is that user's account. What the upstream
// says on it (log lines, resource updates, any notification but list changes) is about that account
// and must reach nobody, least of all every other user of the upstream.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../helpers/client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { acctUpstreamYaml, staticConnection, vaultWith } from '../helpers/oauth-upstream-config.js';
import { waitUntil } from '../helpers/wait.js';

const BOB = 'bob-key-0123456789';
let up: OAuthUpstream;
let gw: TestGateway;
let bob: Client;
const heard: { method: string; params?: unknown }[] = [];

beforeAll(async () => {
  up = await startOAuthUpstream();
  // Alice connected first: the catalog session is hers.
  const credentials = await vaultWith({
    alice: staticConnection(up, 'alice', 1000),
    bob: staticConnection(up, 'bob', 2000),
  });
  gw = await startGateway(`
auth:
  api_keys:
    - { agent: bob, key: ${BOB} }
${credentials}upstreams:
${acctUpstreamYaml(up, 'per_agent', false)}`);
  bob = await connect(`${gw.url}/mcp`, { key: BOB });
  bob.fallbackNotificationHandler = async (n) => void heard.push(n);
  await waitUntil(() => up.streams('alice') > 0, 30_000);
});

afterAll(async () => {
  await bob?.close();
  await gw?.close();
  await up?.close();
});

it("what the upstream tells the catalog session (the first user's account) reaches no other user", async () => {
  expect(await bob.callTool({ name: 'acct__whoami', arguments: {} })).toMatchObject({
    content: [{ type: 'text', text: 'sub=bob' }],
  });
  // On alice's session: a log line about her account, then a list change (which every user hears of,
  // after anything sent before it on the same stream).
  const pushed = up.push('alice', {
    jsonrpc: '2.0',
    method: 'notifications/message',
    params: { level: 'info', data: 'alice-private: new invoice for alice@example.com' },
  });
  expect(pushed).toBe(1);
  up.push('alice', { jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
  await waitUntil(() => heard.some((n) => n.method === 'notifications/tools/list_changed'), 30_000);
  expect(JSON.stringify(heard)).not.toContain('alice-private');
});
