// Per-user upstream credentials on two gateway instances sharing one Redis vault: a user's token
// refreshed on both at once. Authorization servers rotate refresh tokens and treat a spent one shown
// again as theft (RFC 9700 §4.14.2: the whole grant is revoked), so the two instances must not both
// present the same refresh token: one refreshes, the other uses its result.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisVaultStore } from '../../src/credentials/vault-store.js';
import { Vault, VaultKeys } from '../../src/credentials/vault.js';
import { connect, toolText } from '../helpers/client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { expiredConnection } from '../helpers/oauth-upstream-config.js';
import { startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { dropPrefix, ensureRedis, REDIS_HOST, REDIS_PORT } from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait.js';

const ALICE = 'alice-key-0123456789';
const available = await ensureRedis();
const prefix = `tgcreds2-${randomBytes(4).toString('hex')}:`;
const key = randomBytes(32).toString('base64');
let up: OAuthUpstream;
const gws: TestGateway[] = [];
const clients: Client[] = [];
let redis: Redis;
let vault: Vault;

const whoami = (c: Client, tool = 'acct__whoami'): Promise<string> => toolText(c, tool);

/** The connect link a -32042 names, confirmed on its instance: where the browser is sent next. */
async function start(gw: TestGateway, client: Client): Promise<string> {
  const link = /^error -32042 (\S+)$/.exec(await whoami(client, 'fresh__whoami'))?.[1] ?? '';
  const res = await fetch(`${gw.url}/connections/start`, {
    method: 'POST',
    headers: { origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ t: new URL(link).searchParams.get('t') ?? '' }).toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  return res.headers.get('location') ?? '';
}

describe.skipIf(!available)('per-user credentials, two instances on one Redis vault', () => {
  beforeAll(async () => {
    up = await startOAuthUpstream();
    redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    vault = new Vault(new VaultKeys([{ id: 'k1', key }]), new RedisVaultStore(redis, prefix));
    // One public URL for both, as behind a load balancer: one redirect URI, so one client to register.
    const config = `
server: { public_url: "http://tollgate.test" }
auth:
  api_keys:
    - { agent: alice, key: ${ALICE} }
credentials:
  vault: { store: redis, keys: ["k1:${key}"] }
limits: { redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}" } }
upstreams:
  acct:
    transport: streamable_http
    url: "${up.mcpUrl}"
    protocol: "2025"
    isolation: per_agent
    auth:
      kind: oauth
      client: { id: tollgate, secret: tollgate-secret-0123 }
      catalog_headers: { authorization: "Bearer static-operator" }
  fresh:
    transport: streamable_http
    url: "${up.mcpUrl}"
    protocol: "2025"
    isolation: per_agent
    auth: { kind: oauth, registration: dynamic, catalog_headers: { authorization: "Bearer static-operator" } }
`;
    gws.push(await startGateway(config), await startGateway(config));
    for (const g of gws) clients.push(await connect(`${g.url}/mcp`, { key: ALICE }));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(gws.map((g) => g.close()));
    await up?.close();
    if (redis) {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('an expired token is refreshed once for both instances: the refresh token is never presented twice', async () => {
    const t = expiredConnection(up, 'alice');
    await vault.put('acct', 'alice', t);
    const held = up.hold('refresh');
    const first = whoami(clients[0]!);
    await held.arrived; // instance 1 is refreshing (its answer held)
    const metadata = up.seen.filter((k) => k === 'metadata').length;
    const second = whoami(clients[1]!);
    // Instance 2 has found the token expired and looked up the authorization server too.
    await waitUntil(() => up.seen.filter((k) => k === 'metadata').length > metadata, 30_000);
    held.release();
    expect([await first, await second]).toEqual(['sub=alice', 'sub=alice']);
    expect(up.refreshTokens).toEqual([t.refreshToken]);
    // And the connection goes on working on both.
    expect([await whoami(clients[0]!), await whoami(clients[1]!)]).toEqual(['sub=alice', 'sub=alice']);
  });

  it('first flows started on both instances at once register one client (dynamic registration)', async () => {
    const held = up.hold('register');
    const first = start(gws[0]!, clients[0]!);
    await held.arrived;
    const metadata = up.seen.filter((k) => k === 'metadata').length;
    const second = start(gws[1]!, clients[1]!);
    await waitUntil(() => up.seen.filter((k) => k === 'metadata').length > metadata, 30_000);
    held.release();
    const clientIds = (await Promise.all([first, second])).map((u) => new URL(u).searchParams.get('client_id'));
    expect(up.seen.filter((k) => k === 'register')).toHaveLength(1);
    expect(clientIds[0]).toBe(clientIds[1]);
  });
});
