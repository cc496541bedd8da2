// A hostile agent against the limits of two gateway processes sharing one Redis: what it gets past
// them is counted where it lands, at an upstream that counts the calls it is running
// (test/fixtures/inflight-server.ts), never by timing.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Redis } from 'ioredis';
import { connectFresh } from '../helpers/fresh-client.js';
import { dropPrefix, ensureRedis, REDIS_HOST, REDIS_PORT } from '../helpers/redis.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { waitUntil } from '../helpers/wait.js';
import { startGateway } from '../helpers/gateway.js';
import { codeFor, pkce, redeemCode, register } from '../helpers/oauth.js';

const CONC_KEY = 'hostile-conc-0123456789';
const RELOAD_KEY = 'hostile-reload-012345678';
const CONCURRENCY = 2;

interface Stats {
  inFlight: number;
  maxInFlight: number;
  calls: number;
}

const reloadPolicy = (limit: number): string =>
  `agent: reload\ntools: { allow: ["*"] }\nlimits: { requests: [{ limit: ${limit}, per: 1d }] }\n`;

describe('a hostile agent against limits shared by two gateways', async () => {
  const redis = await ensureRedis();
  const prefix = `tghostile-${randomBytes(4).toString('hex')}:`;
  const root = mkdtempSync(join(tmpdir(), 'tollgate-hostile-limits-'));
  const spawned: Spawned[] = [];
  const clients: Client[] = [];
  let upstream: Spawned;
  let ports: number[] = [];
  const stats = async (): Promise<Stats> =>
    (await fetch(`http://127.0.0.1:${upstream.port}/stats`).then((r) => r.json())) as Stats;

  beforeAll(async () => {
    if (!redis) return;
    mkdirSync(join(root, 'policies'));
    writeFileSync(
      join(root, 'policies', 'conc.yaml'),
      `agent: conc\ntools: { allow: ["*"] }\nlimits: { concurrency: ${CONCURRENCY} }\n`,
    );
    writeFileSync(join(root, 'policies', 'reload.yaml'), reloadPolicy(4));
    writeFileSync(
      join(root, 'policies', 'team.yaml'),
      'group: team\ntools: { allow: ["*"] }\nlimits: { requests: [{ limit: 2, per: 1d }] }\n' +
        'approvals: [{ tool: "up__hold", ask: operators, timeout: 1s }]\n',
    );
    upstream = await spawnListening(['test/fixtures/inflight-server.ts']);
    spawned.push(upstream);
    writeFileSync(
      join(root, 'tollgate.yaml'),
      `upstreams:\n  up: { transport: streamable_http, url: "http://127.0.0.1:${upstream.port}/mcp" }\n` +
        `auth: { api_keys: [{ agent: conc, key: ${CONC_KEY} }, { agent: reload, key: ${RELOAD_KEY} }] }\n` +
        `policies: { dir: policies, watch: false }\naudit: { file: null }\npins: { enabled: false }\n` +
        `limits: { store: redis, redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}" } }\n`,
    );
    const gateways = await Promise.all(
      [0, 1].map(() =>
        spawnListening(['src/main.ts', 'serve', '--config', join(root, 'tollgate.yaml'), '--port', '0']),
      ),
    );
    spawned.push(...gateways);
    ports = gateways.map((g) => g.port);
  }, 200_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(spawned.map((s) => s.kill()));
    rmSync(root, { recursive: true, force: true });
    if (redis) {
      const admin = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
      await dropPrefix(admin, prefix);
      admin.disconnect();
    }
  });

  const client = async (port: number, key: string): Promise<Client> => {
    const c = await connectFresh(`http://127.0.0.1:${port}/mcp`, key);
    clients.push(c);
    return c;
  };

  it.skipIf(!redis)(
    `cancelling its calls does not start more than concurrency ${CONCURRENCY} at the upstream`,
    async () => {
      const cs = await Promise.all(ports.map((p) => client(p, CONC_KEY)));
      const outcomes: Array<'cancelled' | number | string> = [];
      // Each call holds the upstream (it ignores the cancellation, as the protocol allows), and is
      // cancelled by the agent as soon as the upstream runs it; the next one goes to the other instance.
      for (let i = 0; i < 6; i++) {
        const before = (await stats()).calls;
        const abort = new AbortController();
        const call = cs[i % 2]!.callTool({ name: 'up__hold', arguments: { ms: 120_000 } }, undefined, {
          signal: abort.signal,
          timeout: 300_000,
        }).then(
          () => 'answered' as const,
          (err: { code?: number; name?: string; message?: string }) => err.code ?? err.message ?? 'error',
        );
        // Either the upstream starts it (then the agent cancels) or the gateway refuses it.
        const settled = await Promise.race([
          call,
          waitUntil(async () => (await stats()).calls > before, 60_000).then(() => undefined),
        ]);
        if (settled === undefined) {
          abort.abort();
          await call;
          outcomes.push('cancelled');
        } else outcomes.push(settled);
      }
      const s = await stats();
      console.log(`[limits-hostile] cancel: ${JSON.stringify(outcomes)}, upstream running ${s.inFlight}`);
      expect(s.maxInFlight).toBeLessThanOrEqual(CONCURRENCY);
      expect(outcomes.slice(0, CONCURRENCY)).toEqual(Array(CONCURRENCY).fill('cancelled'));
      expect(outcomes.slice(CONCURRENCY)).toEqual(Array(6 - CONCURRENCY).fill(-32029));
    },
    300_000,
  );

  /** Re-reads the config and policies of every gateway (SIGHUP), once each has said so. */
  const reloadAll = async (): Promise<void> => {
    await Promise.all(
      spawned.slice(1).map(
        (g) =>
          new Promise<void>((resolve) => {
            const lines = createInterface({ input: g.child.stdout! });
            lines.on('line', (line) => {
              if (!line.includes('config reloaded')) return;
              lines.close();
              resolve();
            });
            g.child.kill('SIGHUP');
          }),
      ),
    );
  };

  it.skipIf(!redis)(
    'a policy reload that lowers a spent limit does not hand the agent a fresh one',
    async () => {
      const cs = await Promise.all(ports.map((p) => client(p, RELOAD_KEY)));
      const call = (i: number): Promise<'ok' | number | string> =>
        cs[i % 2]!.callTool({ name: 'up__echo', arguments: { text: 'x' } }).then(
          () => 'ok' as const,
          (err: { code?: number; message?: string }) => err.code ?? err.message ?? 'error',
        );
      const before = (await stats()).calls;
      const spent: Array<'ok' | number | string> = [];
      for (let i = 0; i < 5; i++) spent.push(await call(i));
      expect(spent).toEqual(['ok', 'ok', 'ok', 'ok', -32029]);
      // The operator lowers the limit (4/1d → 3/1d): the 4 calls of today are still today's.
      writeFileSync(join(root, 'policies', 'reload.yaml'), reloadPolicy(3));
      await reloadAll();
      const after: Array<'ok' | number | string> = [];
      for (let i = 0; i < 4; i++) after.push(await call(i));
      console.log(`[limits-hostile] reload: before ${JSON.stringify(spent)}, after ${JSON.stringify(after)}`);
      expect(after).toEqual([-32029, -32029, -32029, -32029]);
      expect((await stats()).calls - before).toBe(4);
    },
    120_000,
  );

  it.skipIf(!redis)(
    "a signed-in user who is an agent by their groups gets the group's limits and approvals",
    async () => {
      // A user no agent file names is agent user:<name> with the union of its groups' policies: the
      // group's allow-list applied, and so must its limits and approval rules (an in-process gateway
      // with the same store).
      const bob = { name: 'bob', password: 'bob-password-0123' };
      const callback = 'http://127.0.0.1:9/callback';
      const gw = await startGateway(
        `upstreams:\n  up: { transport: streamable_http, url: "http://127.0.0.1:${upstream.port}/mcp" }\n` +
          `auth:\n  oauth:\n    enabled: true\n    users: [{ name: bob, password: ${bob.password}, groups: [team] }]\n` +
          `policies: { dir: ${join(root, 'policies')}, watch: false }\naudit: { file: null }\npins: { enabled: false }\n` +
          `limits: { store: redis, redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}" } }\n`,
      );
      try {
        const reg = await register(gw.url, {
          client_name: 'hostile',
          redirect_uris: [callback],
          token_endpoint_auth_method: 'none',
        });
        const clientId = reg.body.client_id as string;
        const { verifier, challenge } = pkce();
        const resource = `${gw.url}/mcp`;
        const code = await codeFor(gw.url, { clientId, redirectUri: callback, challenge, resource }, bob);
        const t = await redeemCode(gw.url, { code, verifier, clientId, redirectUri: callback, resource });
        const c = await connectFresh(resource, t.body.access_token as string);
        clients.push(c);
        const before = (await stats()).calls;
        const outcomes: Array<'ok' | number | string> = [];
        for (let i = 0; i < 4; i++)
          outcomes.push(
            await c.callTool({ name: 'up__echo', arguments: { text: 'x' } }).then(
              () => 'ok' as const,
              (err: { code?: number; message?: string }) => err.code ?? err.message ?? 'error',
            ),
          );
        // Held for an operator nobody is: refused when the rule's 1 s runs out, never run.
        const held = await c.callTool({ name: 'up__hold', arguments: { ms: 1 } }).then(
          () => 'ok' as const,
          (err: { code?: number; message?: string }) => err.code ?? err.message ?? 'error',
        );
        console.log(`[limits-hostile] group user: ${JSON.stringify(outcomes)}, held tool: ${held}`);
        expect(outcomes).toEqual(['ok', 'ok', -32029, -32029]);
        expect(held).toBe(-32043);
        expect((await stats()).calls - before).toBe(2);
      } finally {
        await gw.close();
      }
    },
    120_000,
  );
});
