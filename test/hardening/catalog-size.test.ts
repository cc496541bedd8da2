// Hardening: an upstream listing a huge catalog. Every entry is judged, pinned (written to the pin
// file) and merged into every agent's tools/list, so the entries kept per list per upstream are
// capped (`max_catalog_entries`, default 5000): the rest is dropped with a warning, a metric and a
// note on /admin/upstreams, and agents still get a list (the first entries, in the upstream's order).
// The bytes fetched per list are capped the same way (`max_catalog_bytes`, default 16 MiB): without
// it 100 pages of max_response_bytes each (about 3.2 GB) were fetched whatever they held.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect, listAllTools } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const ADMIN = 'admin-token-0123456789';
const upstream = (many: number, extra = '') =>
  `{ transport: stdio, command: ${process.execPath}, args: [${nodeArgsYaml('test/fixtures/hostile-server.ts')}, --many-tools, '${many}'], cwd: ${process.cwd()}, timeouts: { connect: 60s, request: 30s }${extra} }`;

let gw: TestGateway & { pinsFile: string };
let agent: Client;

beforeAll(async () => {
  gw = await startGateway(`
admin: { tokens: [${ADMIN}] }
upstreams:
  huge: ${upstream(7000)}
  small: ${upstream(25, ', max_catalog_entries: 10')}
  bytes: ${upstream(3000, ', max_catalog_bytes: 50000')}
${authYaml()}`);
  await waitUntil(() => gw.gw.upstreams.every((u) => u.state === 'ready' && u.catalog.tools.length > 0), 90_000);
  agent = await connect(`${gw.url}/mcp`);
}, 120_000);
afterAll(async () => {
  await agent?.close().catch(() => undefined);
  await gw?.close();
});

describe('an upstream listing more tools than the cap', () => {
  it('agents get the first 5000 (default cap) and the first 10 (configured cap); the rest is dropped', async () => {
    const names = await listAllTools(agent);
    const huge = names.filter((n) => n.startsWith('huge__'));
    const small = names.filter((n) => n.startsWith('small__'));
    expect(huge).toHaveLength(5000);
    expect(huge.slice(0, 2)).toEqual(['huge__echo', 'huge__storm']);
    // The fixture's own tools first, then t0 … in order, up to the cap.
    const fixed = huge.filter((n) => !/^huge__t\d+$/.test(n)).length;
    const last = 5000 - fixed - 1;
    expect(huge.at(-1)).toBe(`huge__t${last}`);
    expect(huge).not.toContain(`huge__t${last + 1}`);
    expect(small).toHaveLength(10);
    // About 60 bytes a tool: 50 000 bytes hold the first few hundred of page 0; pages 1 and 2 are
    // never fetched.
    const bytes = names.filter((n) => n.startsWith('bytes__'));
    expect(bytes.length).toBeGreaterThan(100);
    expect(bytes.length).toBeLessThan(1000);
    expect(bytes.slice(0, 2)).toEqual(['bytes__echo', 'bytes__storm']);
    // What is not listed is not pinned either.
    // (The pin file is written in the background: wait for the last listed tool to be in it.)
    await waitUntil(() => readFileSync(gw.pinsFile, 'utf8').includes(`"t${last}"`), 30_000);
    expect(readFileSync(gw.pinsFile, 'utf8')).not.toContain(`"t${last + 1}"`);
  });

  it('says so in the metrics and on /admin/upstreams', async () => {
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^tollgate_upstream_catalog_truncated\{server="huge",list="tools"\} 1$/m);
    expect(metrics).toMatch(/^tollgate_upstream_catalog_truncated\{server="small",list="tools"\} 1$/m);
    expect(metrics).toMatch(/^tollgate_upstream_catalog_truncated\{server="bytes",list="tools"\} 1$/m);
    const status = (await (
      await fetch(`${gw.url}/admin/api/upstreams`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json()) as { name: string; tools: number; truncated?: string[] }[];
    expect(status.find((u) => u.name === 'huge')).toMatchObject({ tools: 5000, truncated: ['tools'] });
    expect(status.find((u) => u.name === 'bytes')).toMatchObject({ truncated: ['tools'] });
  });
});
