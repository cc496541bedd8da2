// PostgreSQL goes away mid-load and comes back. It is the machine's shared server, so the outage is a
// TCP proxy in front of it that the test closes (open connections reset, new ones refused) and opens
// again. A gateway in `spool` mode keeps answering (records wait in its spool) and catches up after,
// without losing an acknowledged record or duplicating one; a gateway in `fail_closed` mode refuses
// tool calls with a clear error meanwhile, and serves again once PostgreSQL is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAuditStore } from '../../src/audit/pg/store.js';
import { verifyPgChains } from '../../src/cli/audit-postgres.js';
import { echoRows, startLoad } from '../helpers/audit-load.js';
import { connect } from '../helpers/client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { createTestDatabase, postgresAvailable, testPool, type TestDatabase } from '../helpers/postgres.js';
import { startProxy, type TcpProxy } from '../helpers/redis.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { waitUntil } from '../helpers/wait.js';

const KEY = 'outage-key-0123456789';
const TABLE = 'outage_audit';
const enabled = await postgresAvailable();

let db: TestDatabase;
let proxy: TcpProxy;
let upstream: Spawned;
let spool: TestGateway;
let closed: TestGateway;

const yaml = (instance: string, mode: string) => `
server: { instance_id: ${instance} }
upstreams:
  feat: { transport: streamable_http, url: "http://127.0.0.1:${upstream.port}/mcp" }
auth: { api_keys: [{ agent: tester, key: ${KEY} }] }
audit:
  postgres: { url: "${db.urlVia(proxy.port)}", table: ${TABLE}, mode: ${mode}, batch: 50 }
`;

beforeAll(async () => {
  if (!enabled) return;
  db = await createTestDatabase();
  proxy = await startProxy(5432);
  upstream = await spawnListening(['test/fixtures/feature-server.ts', '--tag', 'outage']);
  [spool, closed] = await Promise.all([
    startGateway(yaml('gw-spool', 'spool')),
    startGateway(yaml('gw-closed', 'fail_closed')),
  ]);
}, 120_000);

afterAll(async () => {
  await spool?.close();
  await closed?.close();
  await proxy?.close().catch(() => {});
  await upstream?.kill();
  await db?.drop();
});

const echo = async (gw: TestGateway, text: string): Promise<string> => {
  const c = await connect(`${gw.url}/mcp`, { key: KEY });
  try {
    const r = await c.callTool({ name: 'feat__echo', arguments: { text } });
    return r.isError ? 'is_error' : 'ok';
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.close();
  }
};

describe.skipIf(!enabled)('PostgreSQL stopped mid-load and restarted', () => {
  it('spool: no acknowledged record lost, none duplicated; fail_closed: refused meanwhile, then serves', async () => {
    expect(await echo(closed, 'before')).toBe('ok');
    const load = await startLoad(`${spool.url}/mcp`, KEY, 'outage', 2);
    await waitUntil(async () => (await echoRows(db.url, TABLE, 'outage')).size >= 20, 30_000);

    await proxy.close(); // PostgreSQL is gone
    const atCut = load.acked.size;
    await waitUntil(() => spool.gw.recorder.fleet!.shipper.state === 'down', 30_000);
    await waitUntil(() => load.acked.size >= atCut + 40, 30_000); // still answering, from the spool
    expect(load.refused).toEqual([]);

    // fail_closed: once it has seen PostgreSQL fail, tool calls are refused with the reason.
    let answer = '';
    await waitUntil(async () => (answer = await echo(closed, 'during')) !== 'ok', 30_000);
    expect(answer).toMatch(/audit store \(PostgreSQL\) is unreachable: tool calls are refused/);

    await proxy.reopen(); // back
    await waitUntil(() => load.acked.size >= atCut + 60, 30_000);
    await load.stop();
    const acked = [...load.acked];
    await waitUntil(async () => {
      const rows = await echoRows(db.url, TABLE, 'outage');
      return acked.every((t) => rows.has(t));
    }, 30_000);
    const rows = await echoRows(db.url, TABLE, 'outage');
    expect([...rows.values()].filter((n) => n !== 1)).toEqual([]);
    await waitUntil(async () => (await echo(closed, 'after')) === 'ok', 30_000);

    const pool = testPool(db.url);
    try {
      expect(await verifyPgChains(new PgAuditStore(pool, TABLE), false)).toMatchObject({ ok: true, chains: 2 });
      // The refused call is on record too (decision error, with the reason), shipped after the outage.
      // Calls made before the gateway had seen PostgreSQL fail were answered, and are recorded as allowed.
      const during = await pool.query(
        `SELECT decision, line FROM ${TABLE} WHERE instance = 'gw-closed' AND arguments->>'text' = 'during'`,
      );
      const refused = during.rows.filter((r) => r.decision === 'error');
      expect(refused.length).toBeGreaterThan(0);
      for (const r of refused) expect(String(r.line)).toContain('is unreachable: tool calls are refused');
      expect(during.rows.filter((r) => r.decision !== 'error' && r.decision !== 'allowed')).toEqual([]);
    } finally {
      await pool.end();
    }
  });
});
