// Revoking a connection ends the user's upstream sessions with it, per_session ones included: an
// upstream session opened with the revoked token (its GET stream still open at the upstream) must
// not go on relaying that account to the agent.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileVaultStore } from '../../src/credentials/vault-store.js';
import { Vault, VaultKeys } from '../../src/credentials/vault.js';
import { connect } from '../helpers/client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const ALICE = 'alice-key-0123456789';
let up: OAuthUpstream;
let gw: TestGateway;
let alice: Client;

beforeAll(async () => {
  up = await startOAuthUpstream();
  const dir = tempDir('tollgate-creds-revoke-');
  const key = randomBytes(32).toString('base64');
  const vaultFile = join(dir, 'vault.json');
  const vault = new Vault(new VaultKeys([{ id: 'k1', key }]), new FileVaultStore(vaultFile));
  await vault.put('acct', 'alice', { accessToken: 'static-alice', issuer: up.origin, connectedAt: Date.now() });
  await vault.close();
  gw = await startGateway(`
auth:
  api_keys:
    - { agent: alice, key: ${ALICE} }
credentials:
  vault: { file: ${vaultFile}, keys: ["k1:${key}"] }
upstreams:
  acct:
    transport: streamable_http
    url: "${up.mcpUrl}"
    protocol: "2025"
    isolation: per_session
    auth:
      kind: oauth
      client: { id: tollgate, secret: tollgate-secret-0123 }
      catalog_headers: { authorization: "Bearer static-operator" }
`);
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
