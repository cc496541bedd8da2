// Faults under load (bounded: a few clients, a few hundred calls, loopback only). While SDK clients
// call tools in a loop, one part dies: a stdio upstream, one HTTP replica of two, Redis (limits), the
// gateway itself (SIGKILL). What the reliability goals promise is asserted: every call settles (an
// answer or an error, none left hanging), every success is in the audit log, budgets are not
// overshot, and once the part is back calls succeed again without restarting the gateway.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { waitUntil } from '../helpers/wait.js';
import { ensureRedis, startProxy, type TcpProxy } from '../helpers/redis.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { drive, hanging, missingFromAudit, successes, type CallOutcome } from './load.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

const CLIENTS = 8;
const FEATURE = 'test/fixtures/feature-server.ts';
const STDIO = `{ transport: stdio, command: node, args: [${nodeArgsYaml(FEATURE)}, --stdio], cwd: ${process.cwd()}, timeouts: { request: 5s } }`;

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function clients(url: string, n = CLIENTS): Promise<Client[]> {
  const list = await Promise.all(Array.from({ length: n }, () => connect(url)));
  cleanup.push(() => Promise.all(list.map((c) => c.close())));
  return list;
}

async function gateway(yaml: string): Promise<TestGateway & { auditFile: string }> {
  const gw = await startGateway(yaml);
  cleanup.push(() => gw.close());
  return gw;
}

/** What every fault must leave true of the load. */
function expectSettledAndAudited(outcomes: CallOutcome[], total: number, auditFile: string): void {
  expect(outcomes).toHaveLength(total); // every call came back, one way or the other
  expect(hanging(outcomes), 'calls the gateway never settled').toEqual([]);
  expect(missingFromAudit(outcomes, auditFile), 'successful calls missing from the audit log').toEqual([]);
}

const summary = (label: string, o: CallOutcome[]): void => {
  const errors = new Map<string, number>();
  for (const x of o)
    if (!x.ok) errors.set(String(x.code ?? x.message), (errors.get(String(x.code ?? x.message)) ?? 0) + 1);
  console.log(
    `[faults] ${label}: ${o.length} calls, ${successes(o).length} ok, errors ${JSON.stringify(Object.fromEntries(errors))}`,
  );
};

/** Each client calls 25 times; `fault` strikes once, after `after` calls have succeeded. */
async function driveWithFault(cs: readonly Client[], after: number, fault: () => void) {
  let struck = false;
  const outcomes = await drive(cs, {
    tool: 'feat__echo',
    callsPerClient: 25,
    onOutcome: (_o, all) => {
      if (struck || successes(all).length < after) return;
      struck = true;
      fault();
    },
  });
  expect(struck).toBe(true);
  return outcomes;
}

const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;

describe('faults under load', () => {
  it('a stdio upstream killed mid-load: calls in flight fail at once, the process is restarted, calls succeed again', async () => {
    const gw = await gateway(`upstreams:\n  feat: ${STDIO}\npins: { enabled: false }\n${authYaml()}`);
    const cs = await clients(`${gw.url}/mcp`);
    const outcomes = await driveWithFault(cs, 40, () => {
      // The fixture is this process's child (the gateway runs in-process): SIGKILL it.
      execFileSync('pkill', ['-KILL', '-P', String(process.pid), '-f', 'feature-server\\.[jt]s --stdio']);
    });
    summary('stdio upstream killed', outcomes);
    expectSettledAndAudited(outcomes, CLIENTS * 25, gw.auditFile);
    expect(outcomes.filter((o) => !o.ok).every((o) => o.code === -32050)).toBe(true);
    await waitUntil(() => gw.gw.upstreams[0]?.state === 'ready', 20_000);
    const after = await drive(cs, { tool: 'feat__echo', callsPerClient: 3 });
    expect(successes(after)).toHaveLength(CLIENTS * 3);
    expectSettledAndAudited(after, CLIENTS * 3, gw.auditFile);
  }, 60_000);

  it('one HTTP replica of two killed mid-load: its sessions move to the other, and it is used again once back', async () => {
    const [r1, r2] = await Promise.all([
      spawnListening([FEATURE, '--tag', 'r1']),
      spawnListening([FEATURE, '--tag', 'r2']),
    ]);
    let r1Again: Spawned | undefined;
    cleanup.push(() => Promise.all([r1.kill(), r2.kill(), r1Again?.kill()]));
    const gw = await gateway(`
upstreams:
  feat:
    transport: streamable_http
    replicas: [{ url: "http://127.0.0.1:${r1.port}/mcp" }, { url: "http://127.0.0.1:${r2.port}/mcp" }]
    timeouts: { request: 5s }
    balance:
      strategy: least_sessions
      health_check: { interval: 100ms, timeout: 300ms, unhealthy_threshold: 1, healthy_threshold: 1 }
      outlier_detection: { ejection: 1s }
pins: { enabled: false }
${authYaml()}`);
    const cs = await clients(`${gw.url}/mcp`);
    const outcomes = await driveWithFault(cs, 40, () => void r1.kill());
    summary('replica killed', outcomes);
    expectSettledAndAudited(outcomes, CLIENTS * 25, gw.auditFile);
    // Only calls in flight on the dead replica may fail; the rest of the load went to r2.
    expect(successes(outcomes).length).toBeGreaterThan(CLIENTS * 25 - CLIENTS * 2);
    r1Again = await spawnListening([FEATURE, '--tag', 'r1', '--port', String(r1.port)]);
    const replicas = () => gw.gw.upstreams[0]!.replicas.map((r) => r.describe());
    // Back in rotation: connected, passing checks, and its ejection (refused connections) over.
    await waitUntil(() => replicas().every((r) => r.state === 'ready' && r.healthy && !r.ejected), 20_000);
    // least_sessions sends new sessions to the replica that came back (it holds none), once its
    // upstream session is up again: a few new agents, one after another, until one lands there.
    const tags: string[] = [];
    for (let i = 0; i < 10 && !tags.includes('r1'); i++) {
      const [c] = await clients(`${gw.url}/mcp`, 1);
      tags.push(textOf(await c!.callTool({ name: 'feat__echo', arguments: { text: 'x' } })).split(':')[0] ?? '');
    }
    expect(tags).toContain('r1');
  }, 60_000);

  describe('Redis (limits store) gone mid-load, behind a TCP proxy', async () => {
    const redis = await ensureRedis();
    const LIMIT = 60;
    const CALLS = 12; // × CLIENTS = 96 > LIMIT

    async function limitedGateway(
      mode: 'local' | 'fail_closed',
    ): Promise<{ gw: TestGateway & { auditFile: string }; proxy: TcpProxy }> {
      const proxy = await startProxy();
      cleanup.push(() => proxy.close());
      const root = tempDir('tollgate-faults-');
      mkdirSync(join(root, 'policies'));
      writeFileSync(
        join(root, 'policies', 'tester.yaml'),
        `agent: tester\ntools: { allow: ["*"] }\nlimits: { requests: [{ limit: ${LIMIT}, per: 1h }] }\n`,
      );
      const gw = await gateway(`
upstreams:
  feat: ${STDIO}
pins: { enabled: false }
policies: { dir: ${join(root, 'policies')}, watch: false }
limits: { store: redis, redis: { url: "redis://127.0.0.1:${proxy.port}", failure_mode: ${mode}, prefix: "tgfault-${randomBytes(4).toString('hex')}:" } }
${authYaml()}`);
      return { gw, proxy };
    }

    it.skipIf(!redis)(
      'failure_mode fail_closed: refused while Redis is away, never over the limit, and calls succeed again once it is back',
      async () => {
        const { gw, proxy } = await limitedGateway('fail_closed');
        const cs = await clients(`${gw.url}/mcp`);
        let cut = false;
        const outcomes = await drive(cs, {
          tool: 'feat__echo',
          callsPerClient: CALLS,
          onOutcome: (_o, all) => {
            if (cut || successes(all).length < 20) return;
            cut = true;
            void proxy.close();
          },
        });
        summary('Redis gone (fail_closed)', outcomes);
        expectSettledAndAudited(outcomes, CLIENTS * CALLS, gw.auditFile);
        expect(successes(outcomes).length).toBeLessThanOrEqual(LIMIT);
        expect(outcomes.filter((o) => !o.ok).every((o) => o.code === -32029)).toBe(true);
        const before = successes(outcomes).length;
        await proxy.reopen();
        await waitUntil(() => (gw.gw.limitStore as { state?: string }).state === 'healthy', 20_000);
        const after = await drive(cs, { tool: 'feat__echo', callsPerClient: CALLS });
        summary('Redis back (fail_closed)', after);
        expectSettledAndAudited(after, CLIENTS * CALLS, gw.auditFile);
        // Redis still holds what it counted before the outage (and calls charged as the connection
        // broke, then refused): never more than the limit together.
        expect(successes(after).length).toBeGreaterThan(0);
        expect(before + successes(after).length).toBeLessThanOrEqual(LIMIT);
      },
      60_000,
    );

    it.skipIf(!redis)(
      "failure_mode local: the gateway's own limit applies while Redis is away, and Redis's count again once it is back",
      async () => {
        const { gw, proxy } = await limitedGateway('local');
        const cs = await clients(`${gw.url}/mcp`);
        let cutAt = -1;
        const outcomes = await drive(cs, {
          tool: 'feat__echo',
          callsPerClient: CALLS,
          onOutcome: (_o, all) => {
            if (cutAt >= 0 || successes(all).length < 20) return;
            cutAt = all.length;
            void proxy.close();
          },
        });
        summary('Redis gone (local)', outcomes);
        expectSettledAndAudited(outcomes, CLIENTS * CALLS, gw.auditFile);
        // Before the cut Redis counted; after it the local store counts from zero (documented): each
        // admits at most the limit. Calls settled after the cut include up to one in flight per client
        // that Redis had admitted.
        const beforeCut = successes(outcomes.slice(0, cutAt)).length;
        expect(beforeCut).toBeLessThanOrEqual(LIMIT);
        expect(successes(outcomes.slice(cutAt)).length).toBeLessThanOrEqual(LIMIT + CLIENTS - 1);
        expect(successes(outcomes).length).toBeLessThanOrEqual(2 * LIMIT);
        await proxy.reopen();
        await waitUntil(() => (gw.gw.limitStore as { state?: string }).state === 'healthy', 20_000);
        const after = await drive(cs, { tool: 'feat__echo', callsPerClient: CALLS });
        summary('Redis back (local)', after);
        expectSettledAndAudited(after, CLIENTS * CALLS, gw.auditFile);
        expect(successes(after).length).toBeGreaterThan(0);
        // Calls in flight at the cut may have been charged to Redis, so Redis admits at most the rest.
        expect(successes(after).length).toBeLessThanOrEqual(LIMIT - beforeCut);
      },
      60_000,
    );
  });

  it('the gateway itself SIGKILLed mid-load: every success is in the audit log, the chain verifies, and a restarted gateway serves the same sessions', async () => {
    const port = await freePort();
    const dir = tempDir('tollgate-kill-');
    const audit = join(dir, 'audit.jsonl');
    writeFileSync(
      join(dir, 'tollgate.yaml'),
      `upstreams:\n  feat: ${STDIO}\npins: { enabled: false }\nsessions: { seal_keys: ["${randomBytes(32).toString('base64')}"] }\n` +
        `auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }\naudit: { file: ${audit} }\n`,
    );
    const start = () =>
      spawnListening(['bin/tollgate.mjs', 'serve', '--config', join(dir, 'tollgate.yaml'), '--port', String(port)]);
    const first = await start();
    let second: Spawned | undefined;
    cleanup.push(() => Promise.all([first.kill(), second?.kill()]));
    const cs = await clients(`http://127.0.0.1:${port}/mcp`);
    const outcomes = await driveWithFault(cs, 60, () => void first.child.kill('SIGKILL'));
    summary('gateway SIGKILLed', outcomes);
    expectSettledAndAudited(outcomes, CLIENTS * 25, audit);
    expect((await verifyAudit(audit)).ok).toBe(true);
    second = await start();
    // Sealed session ids: the same clients carry on with the new process, which continues the chain.
    const after = await drive(cs, { tool: 'feat__echo', callsPerClient: 3 });
    expect(successes(after)).toHaveLength(CLIENTS * 3);
    expectSettledAndAudited(after, CLIENTS * 3, audit);
    const v = await verifyAudit(audit);
    expect(v.ok, JSON.stringify(v.firstBroken)).toBe(true);
  }, 60_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
