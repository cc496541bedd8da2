// An oauth upstream without `catalog_headers` is listed through a shared (catalog) session that
// carries the first connected user's token: that session is that user's account. What the upstream
// says on it (log lines, resource updates, any notification but list changes) is about that account
// and must reach nobody, least of all every other user of the upstream.
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

const BOB = 'bob-key-0123456789';
let up: OAuthUpstream;
let gw: TestGateway;
let bob: Client;
const heard: { method: string; params?: unknown }[] = [];

beforeAll(async () => {
  up = await startOAuthUpstream();
  const dir = tempDir('tollgate-catalog-user-');
  const key = randomBytes(32).toString('base64');
  const vaultFile = join(dir, 'vault.json');
  const vault = new Vault(new VaultKeys([{ id: 'k1', key }]), new FileVaultStore(vaultFile));
  // Alice connected first: the catalog session is hers.
  await vault.put('acct', 'alice', { accessToken: 'static-alice', issuer: up.origin, connectedAt: 1000 });
  await vault.put('acct', 'bob', { accessToken: 'static-bob', issuer: up.origin, connectedAt: 2000 });
  await vault.close();
  gw = await startGateway(`
auth:
  api_keys:
    - { agent: bob, key: ${BOB} }
credentials:
  vault: { file: ${vaultFile}, keys: ["k1:${key}"] }
upstreams:
  acct:
    transport: streamable_http
    url: "${up.mcpUrl}"
    protocol: "2025"
    isolation: per_agent
    auth: { kind: oauth, client: { id: tollgate, secret: tollgate-secret-0123 } }
`);
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
