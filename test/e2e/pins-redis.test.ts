// Pins shared by two gateway instances (pins.store: redis), as agents and operators meet them: a
// tool whose definition differs from its pin is held on both instances; the operator approves it on
// one instance's admin page, and the agent connected to the other instance is told to list again and
// can call it.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect, nextNotification } from '../helpers/client.js';
import { ensureRedis, REDIS_HOST, REDIS_PORT, dropPrefix } from '../helpers/redis.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';

const available = await ensureRedis();
if (!available) console.warn('!!! SKIPPING the shared pins tests: no Redis at 127.0.0.1:6379');

const prefix = `tollgate-test:pins-e2e:${randomUUID().slice(0, 8)}:`;
const ADMIN = 'admin-token-123456';
let feat: Spawned;
let a: TestGateway;
let b: TestGateway;
let agentOnB: Client;
let redis: Redis;

describe.runIf(available)('pins shared through Redis by two instances', () => {
  beforeAll(async () => {
    feat = await spawnListening(['test/fixtures/feature-server.ts', '--port', '0', '--tag', 'shared']);
    redis = new Redis(REDIS_PORT, REDIS_HOST);
    // An operator reviewed a different `echo` earlier: its pin does not match what the upstream lists now.
    const book = { version: 1, tools: { feat: { echo: { sha256: 'a'.repeat(64) } } }, pending: {} };
    await redis.hset(`${prefix}pins`, 'v', '1', 'book', JSON.stringify(book));
    const yaml = `
upstreams:
  feat: { transport: streamable_http, url: "http://127.0.0.1:${feat.port}/mcp" }
pins: { store: redis }
limits: { redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}" } }
admin: { tokens: ["${ADMIN}"] }
${authYaml()}`;
    a = await startGateway(yaml);
    b = await startGateway(yaml);
    agentOnB = await connect(`${b.url}/mcp`);
  }, 60_000);

  afterAll(async () => {
    await agentOnB?.close();
    await a?.close();
    await b?.close();
    await feat?.kill();
    await dropPrefix(redis, prefix);
    await redis.quit();
  });

  it('holds the changed tool on both; an approval on A releases it for the agent on B', async () => {
    expect((await agentOnB.listTools()).tools.map((t) => t.name)).not.toContain('feat__echo');
    const refused = await agentOnB.callTool({ name: 'feat__echo', arguments: { text: 'x' } }).catch((e: Error) => e);
    expect(String(refused)).toMatch(/is held/);
    const headers = { authorization: `Bearer ${ADMIN}` };
    const pendingOnA = (await (await fetch(`${a.url}/admin/pins`, { headers })).json()) as {
      pending: { server: string; tool: string }[];
    };
    expect(pendingOnA.pending).toMatchObject([{ server: 'feat', tool: 'echo' }]);

    const released = nextNotification(agentOnB, 'notifications/tools/list_changed');
    const ok = await fetch(`${a.url}/admin/pins/approve`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ server: 'feat', tool: 'echo' }),
    });
    expect(ok.status).toBe(200);
    await released;
    expect((await agentOnB.listTools()).tools.map((t) => t.name)).toContain('feat__echo');
    expect(await agentOnB.callTool({ name: 'feat__echo', arguments: { text: 'hi' } })).toMatchObject({
      content: [{ text: 'shared:hi' }],
    });
  });
});
