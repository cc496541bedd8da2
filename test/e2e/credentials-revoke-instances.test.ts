// A user's revocation reaches every gateway instance sharing the Redis vault: the instance that did
// not serve it ends that user's upstream sessions too (per_session and per_agent, their GET streams
// included), as the serving instance does, instead of relaying the revoked account until the
// session ends or idles out. The channel is anyone's who can publish on that Redis: malformed,
// oversized and flooding messages are ignored.
import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisVaultStore } from '../../src/credentials/vault-store.js';
import { Vault, VaultKeys } from '../../src/credentials/vault.js';
import { connect, toolText } from '../helpers/client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { acctUpstreamYaml, staticConnection } from '../helpers/oauth-upstream-config.js';
import { dropPrefix, ensureRedis, REDIS_HOST, REDIS_PORT, startProxy } from '../helpers/redis.js';

const ALICE = 'alice-key-0123456789';
const CAROL = 'carol-key-0123456789';
const DAVE = 'dave-key-01234567890';
const available = await ensureRedis();
const prefix = `tgrevoke-${randomBytes(4).toString('hex')}:`;
const key = randomBytes(32).toString('base64');
let up: OAuthUpstream; // acct: per_session
let team: OAuthUpstream; // team: per_agent
let a: TestGateway;
let b: TestGateway;
/** The config both instances start from; a third one reaches Redis through a proxy the test cuts. */
let config: string;
const others: TestGateway[] = [];
const clients: Client[] = [];
let redis: Redis;

const whoami = (c: Client, tool = 'acct__whoami'): Promise<string> => toolText(c, tool);

describe.skipIf(!available)('a revocation on one instance ends the upstream sessions on the others', () => {
  let aliceOnB: Client;
  let carolOnB: Client;

  beforeAll(async () => {
    up = await startOAuthUpstream();
    team = await startOAuthUpstream();
    redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    const vault = new Vault(new VaultKeys([{ id: 'k1', key }]), new RedisVaultStore(redis, prefix));
    await vault.put('acct', 'alice', staticConnection(up, 'alice'));
    await vault.put('acct', 'carol', staticConnection(up, 'carol'));
    await vault.put('team', 'alice', staticConnection(team, 'alice'));
    await vault.put('acct', 'dave', staticConnection(up, 'dave'));
    config = `
auth:
  api_keys:
    - { agent: alice, key: ${ALICE} }
    - { agent: carol, key: ${CAROL} }
    - { agent: dave, key: ${DAVE} }
credentials:
  vault: { store: redis, keys: ["k1:${key}"] }
limits: { redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}" } }
upstreams:
${acctUpstreamYaml(up, 'per_session')}  team:
    transport: streamable_http
    url: "${team.mcpUrl}"
    protocol: "2025"
    isolation: per_agent
    auth:
      kind: oauth
      client: { id: tollgate, secret: tollgate-secret-0123 }
      catalog_headers: { authorization: "Bearer static-operator" }
`;
    a = await startGateway(config);
    b = await startGateway(config);
    // B hears revocations from here on (a subscription is in place before anything is published).
    await b.gw.credentials.listening;
    aliceOnB = await connect(`${b.url}/mcp`, { key: ALICE });
    carolOnB = await connect(`${b.url}/mcp`, { key: CAROL });
    clients.push(aliceOnB, carolOnB);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all([a, b, ...others].filter(Boolean).map((g) => g.close()));
    await up?.close();
    await team?.close();
    if (redis) {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it("per_session: carol's revocation on A ends her upstream session on B; junk on the channel ends nothing", async () => {
    expect([await whoami(aliceOnB), await whoami(carolOnB)]).toEqual(['sub=alice', 'sub=carol']);
    await up.streamsReach('alice', 1);
    await up.streamsReach('carol', 1);

    // Anyone who can publish on this Redis: none of this may end a session, crash B or pile up in it.
    const channel = `${prefix}credentials-revoked`;
    const junk = redis.pipeline();
    for (const text of [
      'not json',
      '[]',
      'null',
      '{"u":1,"a":"alice"}',
      '{"u":"acct"}',
      '{"u":"nope","a":"alice"}',
      // Well formed but over the size a revocation can have: dropped unread.
      JSON.stringify({ u: 'acct', a: 'alice', pad: 'x'.repeat(64 * 1024) }),
    ])
      junk.publish(channel, text);
    // A flood of revocations of nobody here.
    for (let i = 0; i < 10_000; i++) junk.publish(channel, JSON.stringify({ u: 'acct', a: `nobody-${i}` }));
    await junk.exec();

    // Published after the junk: B reads it after the junk, on the same subscription.
    expect(await a.gw.credentials.revoke('acct', 'carol')).toBe(true);
    await up.streamsReach('carol', 0);
    expect(up.push('carol', { jsonrpc: '2.0', method: 'notifications/message', params: {} })).toBe(0);
    // Her next call on B has no token to send; alice's session on B is untouched.
    expect(await whoami(carolOnB)).toMatch(/^error -32042( |$)/);
    expect(up.streams('carol')).toBe(0);
    expect(up.streams('alice')).toBe(1);
    expect(await whoami(aliceOnB)).toBe('sub=alice');
  });

  it("per_agent: alice's revocation on A ends her upstream session on B", async () => {
    expect(await whoami(aliceOnB, 'team__whoami')).toBe('sub=alice');
    await team.streamsReach('alice', 1);
    expect(await a.gw.credentials.revoke('team', 'alice')).toBe(true);
    await team.streamsReach('alice', 0);
    expect(await whoami(aliceOnB, 'team__whoami')).toMatch(/^error -32042( |$)/);
    expect(team.streams('alice')).toBe(0);
    // Her other upstream goes on.
    expect(await whoami(aliceOnB)).toBe('sub=alice');
  });

  it('a revocation an instance missed while cut off from Redis is applied when it is back', async () => {
    const proxy = await startProxy();
    const c = await startGateway(
      config.replace(`redis://${REDIS_HOST}:${REDIS_PORT}`, `redis://${REDIS_HOST}:${proxy.port}`),
    );
    others.push(c);
    await c.gw.credentials.listening;
    const daveOnC = await connect(`${c.url}/mcp`, { key: DAVE });
    clients.push(daveOnC);
    expect(await whoami(daveOnC)).toBe('sub=dave');
    await up.streamsReach('dave', 1);
    await proxy.close(); // C hears nothing now
    expect(await a.gw.credentials.revoke('acct', 'dave')).toBe(true);
    await proxy.reopen();
    await up.streamsReach('dave', 0);
    expect(await whoami(daveOnC)).toMatch(/^error -32042( |$)/);
    await proxy.close();
  });
});
