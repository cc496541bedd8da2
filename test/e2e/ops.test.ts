// What operators scrape and open: /metrics after traffic, the admin API behind its own credential.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGateway, TEST_KEY } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { rawHttp, rawRequest } from '../hardening/raw-http.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const ADMIN = 'admin-token-0123456789';
let gw: Awaited<ReturnType<typeof startGateway>>;
let client: Client;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }
admin: { tokens: [${ADMIN}] }
metrics: { token: metrics-token-123 }
`);
  client = await connect(`${gw.url}/mcp`);
  await client.callTool({ name: 'feat__echo', arguments: { text: 'one' } });
  await client.callTool({ name: 'feat__echo', arguments: { text: 'two' } });
  await expect(client.callTool({ name: 'feat__echo', arguments: { text: '!is_error' } })).resolves.toBeDefined(); // isError result
});
afterAll(async () => {
  await client?.close();
  await gw?.close();
});

const metric = (text: string, name: string, labels: Record<string, string>): number | undefined => {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

describe('/metrics', () => {
  it('requires its own token', async () => {
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${TEST_KEY}` } })).status).toBe(401);
  });

  it('shows request counts, latency histograms with gateway overhead, upstream and session gauges', async () => {
    const r = await fetch(`${gw.url}/metrics`, { headers: { authorization: 'Bearer metrics-token-123' } });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(
      metric(text, 'tollgate_mcp_requests_total', {
        agent: 'tester',
        server: 'feat',
        method: 'tools/call',
        decision: 'allowed',
      }),
    ).toBe(3);
    expect(metric(text, 'tollgate_tool_call_duration_seconds_count', { server: 'feat', part: 'overhead' })).toBe(3);
    const overheadSum = metric(text, 'tollgate_tool_call_duration_seconds_sum', { server: 'feat', part: 'overhead' })!;
    const totalSum = metric(text, 'tollgate_tool_call_duration_seconds_sum', { server: 'feat', part: 'total' })!;
    expect(overheadSum).toBeGreaterThan(0);
    expect(overheadSum).toBeLessThan(totalSum);
    expect(metric(text, 'tollgate_upstream_up', { server: 'feat' })).toBe(1);
    expect(text).toMatch(/^tollgate_sessions_active [1-9]/m);
    expect(text).toMatch(/^tollgate_stdio_processes [1-9]/m);
    expect(text).toMatch(/^tollgate_audit_write_seconds_count [1-9]/m);
    expect(text).not.toMatch(/session_id|mcp-session/); // no unbounded labels
  });
});

describe('admin API', () => {
  it('refuses agent keys and no credential; shows the calls with the admin token', async () => {
    expect((await fetch(`${gw.url}/admin/audit`)).status).toBe(401);
    expect((await fetch(`${gw.url}/admin/audit`, { headers: { authorization: `Bearer ${TEST_KEY}` } })).status).toBe(
      401,
    );
    const r = await fetch(`${gw.url}/admin/audit?agent=tester&tool=feat__echo`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { records: Record<string, unknown>[] };
    expect(body.records.map((x) => x['gen_ai.tool.name'])).toEqual(['feat__echo', 'feat__echo', 'feat__echo']);
  });

  it('reports upstream health', async () => {
    const r = await fetch(`${gw.url}/admin/upstreams`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(await r.json()).toEqual([expect.objectContaining({ name: 'feat', state: 'ready', tools: 10 })]);
  });
});

describe('operator routes behind the Host/Origin guard (DNS rebinding)', () => {
  const port = () => Number(new URL(gw.url).port);
  const status = async (path: string, headers: Record<string, string>) =>
    (await rawRequest(port(), [rawHttp('GET', path, [...Object.entries(headers), ['Connection', 'close']])])).status;

  it('refuses /metrics and /admin from a foreign Host or Origin, even with the right credential', async () => {
    const cases: [string, Record<string, string>][] = [
      ['/metrics', { authorization: 'Bearer metrics-token-123' }],
      ['/admin/audit', { authorization: `Bearer ${ADMIN}` }],
      ['/admin/', {}],
      ['/admin/login', {}],
    ];
    for (const [path, auth] of cases) {
      expect(await status(path, { host: 'evil.example', ...auth })).toBe(403);
      expect(await status(path, { host: `127.0.0.1:${port()}`, origin: 'http://evil.example', ...auth })).toBe(403);
    }
    expect(await status('/metrics', { host: `127.0.0.1:${port()}`, authorization: 'Bearer metrics-token-123' })).toBe(
      200,
    );
    expect(await status('/admin/audit', { host: `localhost:${port()}`, authorization: `Bearer ${ADMIN}` })).toBe(200);
  });
});
