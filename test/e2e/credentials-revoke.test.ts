// Revoking a connection ends the user's upstream sessions with it, per_session ones included: an
// upstream session opened with the revoked token (its GET stream still open at the upstream) must
// not go on relaying that account to the agent.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../helpers/client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { acctUpstreamYaml, staticConnection, vaultWith } from '../helpers/oauth-upstream-config.js';
import { waitUntil } from '../helpers/wait.js';

const ALICE = 'alice-key-0123456789';
let up: OAuthUpstream;
let gw: TestGateway;
let alice: Client;

beforeAll(async () => {
  up = await startOAuthUpstream();
  const credentials = await vaultWith({ alice: staticConnection(up, 'alice') });
  gw = await startGateway(`
auth:
  api_keys:
    - { agent: alice, key: ${ALICE} }
${credentials}upstreams:
${acctUpstreamYaml(up, 'per_session')}`);
  alice = await connect(`${gw.url}/mcp`, { key: ALICE });
});

afterAll(async () => {
  await alice?.close();
  await gw?.close();
  await up?.close();
});

it("a revoked connection's per_session upstream session ends (its GET stream closes)", async () => {
  expect(await alice.callTool({ name: 'acct__whoami', arguments: {} })).toMatchObject({
    content: [{ text: 'sub=alice' }],
  });
  await waitUntil(() => up.streams('alice') === 1, 30_000);
  expect(await gw.gw.credentials.revoke('acct', 'alice')).toBe(true);
  await waitUntil(() => up.streams('alice') === 0, 30_000);
  const after = await alice.callTool({ name: 'acct__whoami', arguments: {} }).catch((e: { code?: number }) => e.code);
  expect(after).toBe(-32042);
});
