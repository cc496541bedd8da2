// The fleet audit (audit.postgres) with two real gateway processes writing to the real PostgreSQL:
// `tollgate audit --postgres` and the admin API of EITHER instance show both instances' records, the
// admin page (real Chromium) shows both and the charts and tails the other instance live, and kill -9
// of an instance under load loses no acknowledged record (its spool is shipped when it starts again).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLine } from '../../src/audit/record.js';
import { PgAuditStore } from '../../src/audit/pg/store.js';
import { verifyPgChains } from '../../src/cli/audit-postgres.js';
import { auditCommand } from '../../src/cli/audit.js';
import { echoRows, startLoad } from '../helpers/audit-load.js';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js';
import { connect } from '../helpers/client.js';
import { nodeArgs } from '../helpers/compiled.js';
import { createTestDatabase, postgresAvailable, testPool, type TestDatabase } from '../helpers/postgres.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const KEY = 'fleet-key-0123456789';
const ADMIN = 'fleet-admin-token-0123456789';
const TABLE = 'fleet_audit';
const enabled = await postgresAvailable();
const browserOk = chromiumAvailable();

let db: TestDatabase;
let dir: string;
let upstream: Spawned;
const gw: Record<'a' | 'b', Spawned | undefined> = { a: undefined, b: undefined };
let browser: { context: BrowserContext; close(): Promise<void> } | undefined;

const configOf = (name: 'a' | 'b') => join(dir, `${name}.yaml`);
const startGateway = (name: 'a' | 'b') =>
  spawnListening(['bin/tollgate.mjs', 'serve', '--config', configOf(name), '--port', '0']);

async function adminRecords(port: number, query = ''): Promise<AuditLine[]> {
  const res = await fetch(`http://127.0.0.1:${port}/admin/api/audit?limit=1000${query}`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: AuditLine[] }).records;
}

const instancesOf = (records: AuditLine[]) => new Set(records.map((r) => r['service.instance.id']));

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs('bin/tollgate.mjs'), 'audit', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

beforeAll(async () => {
  if (!enabled) return;
  db = await createTestDatabase();
  dir = tempDir('tollgate-fleet-');
  upstream = await spawnListening(['test/fixtures/feature-server.ts', '--tag', 'fleet']);
  for (const name of ['a', 'b'] as const)
    writeFileSync(
      configOf(name),
      `server: { instance_id: gw-${name} }\n` +
        `upstreams:\n  feat: { transport: streamable_http, url: "http://127.0.0.1:${upstream.port}/mcp" }\n` +
        `auth: { api_keys: [{ agent: tester, key: ${KEY} }] }\nadmin: { tokens: [${ADMIN}] }\n` +
        `audit:\n  file: ${join(dir, `${name}-spool`, 'audit.jsonl')}\n  postgres: { url: "${db.url}", table: ${TABLE} }\n`,
    );
  [gw.a, gw.b] = await Promise.all([startGateway('a'), startGateway('b')]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([gw.a?.kill(), gw.b?.kill(), upstream?.kill()]);
  await db?.drop();
});

describe.skipIf(!enabled)('fleet audit in PostgreSQL: two gateway processes', () => {
  it('the CLI and the admin API of either instance show both instances, with an instance filter', async () => {
    for (const name of ['a', 'b'] as const) {
      const c = await connect(`http://127.0.0.1:${gw[name]!.port}/mcp`, { key: KEY });
      for (let i = 0; i < 3; i++) await c.callTool({ name: 'feat__echo', arguments: { text: `hello-${name}-${i}` } });
      await c.close();
    }
    await waitUntil(
      async () => (await adminRecords(gw.a!.port)).filter((r) => r['gen_ai.tool.name']).length >= 6,
      30_000,
    );
    for (const name of ['a', 'b'] as const) {
      const records = await adminRecords(gw[name]!.port);
      expect(instancesOf(records)).toEqual(new Set(['gw-a', 'gw-b']));
      // newest first, across instances
      const times = records.map((r) => Date.parse(r.timestamp));
      expect(times).toEqual([...times].sort((x, y) => y - x));
    }
    expect(instancesOf(await adminRecords(gw.a!.port, '&instance=gw-b'))).toEqual(new Set(['gw-b']));

    const byUrl = await cli(['--postgres', db.url, '--table', TABLE, '--json', '--tool', 'feat__echo']);
    expect(byUrl.err).toBe('');
    const lines = byUrl.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine);
    expect(instancesOf(lines)).toEqual(new Set(['gw-a', 'gw-b']));
    expect(lines).toHaveLength(6);
    // The same command in process, from the gateway's config (its audit.postgres): the fleet again.
    let out = '';
    const stdout = new PassThrough().on('data', (d) => (out += d));
    const code = await auditCommand(
      ['--config', configOf('b'), '--json', '--tool', 'feat__echo', '--instance', 'gw-a'],
      {
        stdout,
        stderr: process.stderr,
        isTTY: false,
      },
    );
    expect(code).toBe(0);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as AuditLine)['service.instance.id']),
    ).toEqual(['gw-a', 'gw-a', 'gw-a']);
  });

  it.skipIf(!browserOk)('the admin page shows both instances, the charts, and the other instance live', async () => {
    browser = await launchChromium();
    const page: Page = await browser.context.newPage();
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const base = `http://127.0.0.1:${gw.a!.port}`;
    await page.goto(`${base}/admin/login`);
    await page.fill('input[name="token"]', ADMIN);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/admin/`);

    // Records of both instances; the detail names the instance.
    const bRow = page.locator('#rows tr.rec', { hasText: 'feat__echo' }).first();
    await bRow.waitFor();
    const details = await page.locator('#rows tr.detail').evaluateAll((rows) => rows.map((r) => r.textContent ?? ''));
    expect(details.some((t) => t.includes('gw-a'))).toBe(true);
    expect(details.some((t) => t.includes('gw-b'))).toBe(true);
    await expect(page.locator('input[name="instance"]').count()).resolves.toBe(1);

    // The charts, server-rendered SVG.
    expect(await page.locator('#chart-calls rect.bar.d-allowed').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-latency .series.p99 circle').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-agents').textContent()).toContain('tester');
    expect(await page.locator('#chart-tools').textContent()).toContain('feat__echo');
    const box = await page.locator('#chart-calls').boundingBox();
    expect(box!.width).toBeGreaterThan(200);

    // The live tail on instance a shows a call made on instance b.
    await page.locator('#live-state.on').waitFor();
    const c = await connect(`http://127.0.0.1:${gw.b!.port}/mcp`, { key: KEY });
    await c.callTool({ name: 'feat__echo', arguments: { text: 'live-from-b' } });
    await c.close();
    const live = page.locator('#rows tr.rec.new', { hasText: 'feat__echo' }).first();
    await live.waitFor();
    await live.click();
    expect(await page.locator('#rows tr.detail').first().textContent()).toContain('gw-b');
    expect(errors).toEqual([]);
  });

  it('kill -9 of an instance under load loses no acknowledged record, and duplicates none', async () => {
    const load = await startLoad(`http://127.0.0.1:${gw.a!.port}/mcp`, KEY, 'kill', 2);
    await waitUntil(() => load.acked.size >= 60, 60_000);
    await gw.a!.kill(); // SIGKILL, mid-load
    await load.stop();
    const acked = [...load.acked];
    gw.a = await startGateway('a'); // ships what its spool holds beyond the table
    await waitUntil(async () => {
      const rows = await echoRows(db.url, TABLE, 'kill');
      return acked.every((t) => rows.has(t));
    }, 30_000);
    const rows = await echoRows(db.url, TABLE, 'kill');
    expect([...rows.values()].filter((n) => n !== 1)).toEqual([]);
    const pool = testPool(db.url);
    try {
      expect(await verifyPgChains(new PgAuditStore(pool, TABLE), false)).toMatchObject({ ok: true, chains: 2 });
    } finally {
      await pool.end();
    }
  });
});
