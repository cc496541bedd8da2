// The /mcp fast lane (src/mcp/fast-post.ts) answers what the Hono route answers. `/mcp?via=hono`
// never takes the lane (its URL is not a plain path) and Hono ignores the query, so each request is
// sent both ways and the answers compared; requests the lane must leave to Hono (a wrong token, a
// foreign session, a forged Origin, a notification) are checked for Hono's answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';

let feat: Spawned;
let gw: TestGateway;
let pool: Pool;
const PV = '2025-11-25';

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

async function post(path: string, headers: Record<string, string>, body: unknown): Promise<Answer> {
  const r = await pool.request({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
}

async function session(key = TEST_KEY): Promise<Record<string, string>> {
  const auth = { authorization: `Bearer ${key}` };
  const init = await post('/mcp', auth, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: PV, capabilities: {}, clientInfo: { name: 'fast-lane-test', version: '1' } },
  });
  const h = { ...auth, 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': PV };
  await post('/mcp', h, { jsonrpc: '2.0', method: 'notifications/initialized' });
  return h;
}

/** What must match between the two paths (the date and a generated request id differ by nature). */
const comparable = (a: Answer) => ({
  status: a.status,
  type: a.headers['content-type'],
  session: a.headers['mcp-session-id'],
  length: a.headers['content-length'],
  body: a.body,
});

beforeAll(async () => {
  feat = await spawnListening(['test/fixtures/feature-server.ts', '--port', '0', '--tag', 'fast']);
  gw = await startGateway(
    `upstreams:\n  feat: { transport: streamable_http, url: "http://127.0.0.1:${feat.port}/mcp" }\n${authYaml({ tester: TEST_KEY, other: 'other-key-0123456789' })}`,
  );
  pool = new Pool(gw.url, { connections: 4 });
}, 60_000);

afterAll(async () => {
  await pool?.close();
  await gw?.close();
  await feat?.kill();
});

describe('/mcp fast lane', () => {
  it('answers a tool call, a list and an unknown tool exactly as the Hono route does', async () => {
    const h = await session();
    const call = (name: string) => ({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name, arguments: { text: 'héllo' } },
    });
    for (const body of [
      call('feat__echo'),
      call('feat__nope'),
      { jsonrpc: '2.0', id: 'x', method: 'tools/list' },
      { jsonrpc: '2.0', id: 8, method: 'ping' },
    ]) {
      const fast = await post('/mcp', h, body);
      const hono = await post('/mcp?via=hono', h, body);
      expect(comparable(fast)).toEqual(comparable(hono));
    }
    const echoed = await post('/mcp', { ...h, 'x-request-id': 'req-123' }, call('feat__echo'));
    expect(echoed.headers['x-request-id']).toBe('req-123');
    expect(JSON.parse(echoed.body).result.content[0].text).toBe('fast:héllo');
  });

  it('switches to SSE when progress comes before the answer', async () => {
    const h = await session();
    const r = await post('/mcp', h, {
      jsonrpc: '2.0',
      id: 9,
      method: 'tools/call',
      params: { name: 'feat__slow', arguments: { ms: 50 }, _meta: { progressToken: 'p1' } },
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream');
    const events = r.body
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)));
    expect(events.filter((e) => e.method === 'notifications/progress')).toHaveLength(5);
    expect(events.at(-1)).toMatchObject({ id: 9, result: { content: [{ text: 'fast:slow done' }] } });
  });

  it('leaves refusals to Hono: wrong token, another agent’s session, a forged Origin', async () => {
    const h = await session();
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'feat__echo', arguments: {} } };
    const wrong = await post('/mcp', { ...h, authorization: 'Bearer not-a-key' }, call);
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toContain('Bearer');
    const other = await post('/mcp', { ...h, authorization: 'Bearer other-key-0123456789' }, call);
    expect(other.status).toBe(404);
    expect(JSON.parse(other.body).error.message).toBe('Session not found');
    const forged = await post('/mcp', { ...h, origin: 'https://evil.example' }, call);
    expect(forged.status).toBe(403);
    for (const refused of [wrong, other, forged]) {
      const { status, body } = await post('/mcp?via=hono', { ...h, ...headersOf(refused, h) }, call);
      expect({ status, body }).toEqual({ status: refused.status, body: refused.body });
    }
  });

  it('hands what it does not serve to Hono with the body it read: notifications, batches, bad JSON', async () => {
    const h = await session();
    const note = await post('/mcp', h, {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 99 },
    });
    expect(note.status).toBe(202);
    const batch = await post('/mcp', h, [{ jsonrpc: '2.0', id: 1, method: 'ping' }]);
    expect(comparable(batch)).toEqual(
      comparable(await post('/mcp?via=hono', h, [{ jsonrpc: '2.0', id: 1, method: 'ping' }])),
    );
    expect(batch.status).toBe(400);
    const bad = await post('/mcp', h, '{"jsonrpc":');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.code).toBe(-32700);
  });
});

/** The headers a refused request was sent with (recovered for its Hono twin). */
function headersOf(a: Answer, base: Record<string, string>): Record<string, string> {
  if (a.status === 401) return { authorization: 'Bearer not-a-key' };
  if (a.status === 404) return { authorization: 'Bearer other-key-0123456789' };
  return { ...base, origin: 'https://evil.example' };
}
