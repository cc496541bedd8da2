// Hardening: caps on what agents hold open. Over a cap an agent gets a JSON-RPC error with 429 (its
// own cap) or 503 + Retry-After (the gateway's total), the gateway keeps serving everyone else, and
// the counts go down again when sessions are deleted and streams are closed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const KEYS = { alice: 'alice-key-0123456789', bob: 'bob-key-0123456789', carol: 'carol-key-0123456789' };
type Agent = keyof typeof KEYS;
const V2026 = '2026-07-28';

let gw: TestGateway;
/** Every stream a test opened, aborted after it. */
let open: AbortController[] = [];

beforeAll(async () => {
  gw = await startGateway(`
server: { max_sessions_per_agent: 2, max_sessions: 4, max_sse_streams_per_agent: 2, max_sse_streams: 3 }
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
pins: { enabled: false }
${authYaml(KEYS)}`);
});
afterAll(() => gw?.close());
afterEach(async () => {
  for (const a of open) a.abort();
  open = [];
  for (const s of [...gw.gw.sessions.all()]) gw.gw.sessions.end(s.id);
  await waitUntil(() => gw.gw.sseStreams.total === 0 && gw.gw.sessions.size === 0);
});

const headers = (agent: Agent, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${KEYS[agent]}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  ...extra,
});

function post(agent: Agent, body: unknown, extra: Record<string, string> = {}, path = '/mcp'): Promise<Response> {
  const ac = new AbortController();
  open.push(ac);
  return fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: headers(agent, extra),
    body: JSON.stringify(body),
    signal: ac.signal,
  });
}

const initialize = (agent: Agent) =>
  post(agent, {
    jsonrpc: '2.0',
    id: 'init',
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });

async function session(agent: Agent): Promise<string> {
  const r = await initialize(agent);
  expect(r.status).toBe(200);
  await r.body?.cancel();
  return r.headers.get('mcp-session-id')!;
}

/** Opens the session's GET stream; the response (200 stream, or a refusal) and its abort. */
async function getStream(agent: Agent, sessionId: string): Promise<{ res: Response; close: () => void }> {
  const ac = new AbortController();
  open.push(ac);
  const res = await fetch(`${gw.url}/mcp`, {
    headers: { ...headers(agent), accept: 'text/event-stream', 'mcp-session-id': sessionId },
    signal: ac.signal,
  });
  return { res, close: () => ac.abort() };
}

async function legacyStream(agent: Agent): Promise<Response> {
  const ac = new AbortController();
  open.push(ac);
  return fetch(`${gw.url}/sse`, {
    headers: { authorization: `Bearer ${KEYS[agent]}`, accept: 'text/event-stream' },
    signal: ac.signal,
  });
}

const listen = (agent: Agent) =>
  post(
    agent,
    {
      jsonrpc: '2.0',
      id: 'L',
      method: 'subscriptions/listen',
      params: {
        notifications: { toolsListChanged: true },
        _meta: { 'io.modelcontextprotocol/protocolVersion': V2026, 'io.modelcontextprotocol/clientCapabilities': {} },
      },
    },
    {
      accept: 'text/event-stream, application/json',
      'mcp-protocol-version': V2026,
      'mcp-method': 'subscriptions/listen',
    },
  );

/** A refusal in the protocol's shape: the status, a JSON-RPC error body with the code. */
async function expectRefused(r: Response, status: 429 | 503): Promise<string> {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toContain('application/json');
  const body = (await r.json()) as { jsonrpc: string; error: { code: number; message: string } };
  expect(body.jsonrpc).toBe('2.0');
  expect(body.error.code).toBe(status === 429 ? -32029 : -32030);
  if (status === 503) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  return body.error.message;
}

describe('caps on agent sessions', () => {
  it("one agent's sessions: the next initialize is refused with 429, and DELETE frees a place", async () => {
    const [a, b] = [await session('alice'), await session('alice')];
    expect(b).not.toBe(a);
    const msg = await expectRefused(await initialize('alice'), 429);
    expect(msg).toMatch(/too many open sessions for this agent \(limit 2\)/);
    // Others are not affected by alice's cap.
    await session('bob');
    const del = await fetch(`${gw.url}/mcp`, { method: 'DELETE', headers: headers('alice', { 'mcp-session-id': a }) });
    expect(del.status).toBe(200);
    await session('alice');
  });

  it('all sessions: beyond the total the gateway answers 503 with Retry-After, and an ended session frees a place', async () => {
    const bobs = [await session('bob'), await session('bob')];
    await session('alice');
    await session('carol');
    const msg = await expectRefused(await initialize('carol'), 503);
    expect(msg).toMatch(/maximum of 4 sessions/);
    await fetch(`${gw.url}/mcp`, { method: 'DELETE', headers: headers('bob', { 'mcp-session-id': bobs[0]! }) });
    await session('carol');
  });

  it('the SDK client sees the refusal as an error naming the cap, and connects once a session is closed', async () => {
    const url = `${gw.url}/mcp`;
    const first = await connect(url, { key: KEYS.alice });
    const second = await connect(url, { key: KEYS.alice });
    await expect(connect(url, { key: KEYS.alice })).rejects.toThrow(/429|too many open sessions/);
    await (first.transport as StreamableHTTPClientTransport).terminateSession();
    await first.close();
    const third = await connect(url, { key: KEYS.alice });
    expect((await third.listTools()).tools.length).toBeGreaterThan(0);
    await second.close();
    await third.close();
  });
});

describe('caps on SSE streams', () => {
  it("one agent's GET streams: the next is refused with 429 until one closes", async () => {
    const ids = [await session('alice'), await session('alice')];
    const s1 = await getStream('alice', ids[0]!);
    const s2 = await getStream('alice', ids[1]!);
    expect([s1.res.status, s2.res.status]).toEqual([200, 200]);
    expect(gw.gw.sseStreams.of('alice')).toBe(2);
    // A POST that asks for SSE only, and a legacy SSE connection, count against the same cap.
    const sseOnly = await post(
      'alice',
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { accept: 'text/event-stream', 'mcp-session-id': ids[0]!, 'mcp-protocol-version': '2025-11-25' },
    );
    expect(await expectRefused(sseOnly, 429)).toMatch(/too many open SSE streams for this agent \(limit 2\)/);
    await expectRefused(await legacyStream('alice'), 429);
    await expectRefused(await listen('alice'), 429);
    s1.close();
    await waitUntil(() => gw.gw.sseStreams.of('alice') === 1);
    const again = await getStream('alice', ids[0]!);
    expect(again.res.status).toBe(200);
  });

  it('all streams: beyond the total every kind of stream is refused with 503, and closing one frees a place', async () => {
    const legacy = await legacyStream('alice');
    expect(legacy.status).toBe(200);
    const listened = await listen('bob');
    expect(listened.status).toBe(200);
    expect(listened.headers.get('content-type')).toContain('text/event-stream');
    const carol = await session('carol');
    const get = await getStream('carol', carol);
    expect(get.res.status).toBe(200);
    expect(gw.gw.sseStreams.total).toBe(3);
    await expectRefused(await legacyStream('bob'), 503);
    await expectRefused(await listen('carol'), 503);
    // The gateway still answers plain JSON to everyone.
    const list = await post(
      'carol',
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { 'mcp-session-id': carol, 'mcp-protocol-version': '2025-11-25' },
    );
    expect(list.status).toBe(200);
    get.close();
    await waitUntil(() => gw.gw.sseStreams.total === 2);
    expect((await legacyStream('bob')).status).toBe(200);
  });

  it('a legacy SSE session ends with its connection: the session and stream counts go back down', async () => {
    const ac = new AbortController();
    const r = await fetch(`${gw.url}/sse`, {
      headers: { authorization: `Bearer ${KEYS.alice}`, accept: 'text/event-stream' },
      signal: ac.signal,
    });
    expect(r.status).toBe(200);
    expect(gw.gw.sessions.size).toBe(1);
    ac.abort();
    await waitUntil(() => gw.gw.sessions.size === 0 && gw.gw.sseStreams.total === 0);
  });

  it('the metrics gauges follow the counts', async () => {
    const id = await session('alice');
    const s = await getStream('alice', id);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^tollgate_sse_streams_active 1$/m);
    expect(metrics).toMatch(/^tollgate_sessions_active 1$/m);
    s.close();
  });
});
