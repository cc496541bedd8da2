// Streamable HTTP rules as a raw HTTP client sees them: status codes, headers, JSON-RPC error bodies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

let gw: TestGateway;
const auth = { authorization: `Bearer ${TEST_KEY}` };
const jsonHeaders = { ...auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const init = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

beforeAll(async () => {
  gw = await startGateway(`
server: { max_body_bytes: 2048, sse_keepalive: 100ms }
upstreams:
  featio:
    transport: stdio
    command: node
    args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio]
${authYaml({ tester: TEST_KEY, other: 'other-key-0123456789' })}`);
});
afterAll(() => gw?.close());

const post = (body: unknown, headers: Record<string, string> = jsonHeaders, path = '/mcp') =>
  fetch(`${gw.url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** fetch will not send a custom Host header; undici's request does. */
async function rawPost(body: unknown, headers: Record<string, string>): Promise<Response> {
  const r = await request(`${gw.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(body) });
  return new Response(await r.body.text(), { status: r.statusCode });
}

/**
 * Reads a stream until `text` shows up. Fails when the stream ends first: a loop that kept reading an
 * ended stream spun on already-resolved promises, starving the timers, so the test timeout never fired
 * and the whole run hung.
 */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, text: string): Promise<string> {
  const decoder = new TextDecoder();
  let seen = '';
  while (!seen.includes(text)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`stream ended before ${JSON.stringify(text)}; got ${JSON.stringify(seen)}`);
    seen += decoder.decode(value, { stream: true });
  }
  return seen;
}

async function session(headers = jsonHeaders): Promise<string> {
  const r = await post(init, headers);
  expect(r.status).toBe(200);
  const id = r.headers.get('mcp-session-id');
  expect(id).toBeTruthy();
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { ...headers, 'mcp-session-id': id! });
  return id!;
}

describe('Streamable HTTP transport rules', () => {
  it('issues a session id at initialize and answers JSON when the client prefers it', async () => {
    const r = await post(init);
    expect(r.headers.get('content-type')).toContain('application/json');
    const body = (await r.json()) as { result: { protocolVersion: string; capabilities: Record<string, unknown> } };
    expect(body.result.protocolVersion).toBe('2025-11-25');
    expect(body.result.capabilities).toHaveProperty('tools');
  });

  it('answers notifications with 202 and no body', async () => {
    const id = await session();
    const r = await post(
      { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
      { ...jsonHeaders, 'mcp-session-id': id },
    );
    expect(r.status).toBe(202);
    expect(await r.text()).toBe('');
  });

  it('streams SSE (unbuffered) when the client lists SSE first', async () => {
    const id = await session();
    const r = await post(
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'featio__echo', arguments: { text: 'x' } } },
      {
        ...jsonHeaders,
        accept: 'text/event-stream, application/json',
        'mcp-session-id': id,
      },
    );
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    expect(r.headers.get('x-accel-buffering')).toBe('no');
    const text = await r.text();
    expect(text).toMatch(/^id: \S+\nretry: \d+\ndata: \n\n/); // priming event for resumption
    expect(text).toContain('"feat:x"');
  });

  it('rejects what the spec says to reject, each with a JSON-RPC error body', async () => {
    const id = await session();
    const withSession = { ...jsonHeaders, 'mcp-session-id': id };
    const list = { jsonrpc: '2.0', id: 3, method: 'tools/list' };
    const cases: [string, Promise<Response>, number, number][] = [
      ['Accept without json or sse', post(list, { ...withSession, accept: 'text/html' }), 406, -32600],
      ['wrong content type', post(list, { ...withSession, 'content-type': 'text/plain' }), 415, -32600],
      ['malformed JSON', post('{"jsonrpc": "2.0", ', withSession), 400, -32700],
      ['not JSON-RPC', post({ hello: 1 }, withSession), 400, -32600],
      ['missing session id', post(list, jsonHeaders), 400, -32600],
      ['unknown session id', post(list, { ...jsonHeaders, 'mcp-session-id': 'nope' }), 404, -32044],
      [
        'unsupported protocol version',
        post(list, { ...withSession, 'mcp-protocol-version': '1999-01-01' }),
        400,
        -32600,
      ],
      ['batch on 2025-11-25', post([list, list], withSession), 400, -32600],
      ['body over the limit', post({ ...list, params: { pad: 'x'.repeat(4096) } }, withSession), 413, -32600],
      ['no token', post(list, { ...withSession, authorization: '' }), 401, -32040],
      ['wrong token', post(list, { ...withSession, authorization: 'Bearer wrong-key-0000000' }), 401, -32040],
      ['foreign Origin', post(list, { ...withSession, origin: 'http://evil.example.com' }), 403, -32600],
      ['foreign Host', rawPost(list, { ...withSession, host: 'evil.example.com' }), 403, -32600],
      [
        'another agent’s session',
        post(list, { ...withSession, authorization: 'Bearer other-key-0123456789' }),
        404,
        -32044,
      ],
    ];
    for (const [name, res, status, code] of cases) {
      const r = await res;
      expect([name, r.status]).toEqual([name, status]);
      const body = (await r.json()) as { jsonrpc: string; error: { code: number; message: string } };
      expect([name, body.jsonrpc, body.error.code]).toEqual([name, '2.0', code]);
      expect(body.error.message.length).toBeGreaterThan(5);
    }
  });

  it('sends WWW-Authenticate on 401', async () => {
    const r = await post(init, { ...jsonHeaders, authorization: '' });
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('answers 405 with Allow for other methods, and DELETE ends the session', async () => {
    const id = await session();
    const put = await fetch(`${gw.url}/mcp`, { method: 'PUT', headers: { ...auth, 'mcp-session-id': id } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST, DELETE');
    const del = await fetch(`${gw.url}/mcp`, { method: 'DELETE', headers: { ...auth, 'mcp-session-id': id } });
    expect(del.status).toBe(200);
    const after = await post({ jsonrpc: '2.0', id: 9, method: 'ping' }, { ...jsonHeaders, 'mcp-session-id': id });
    expect(after.status).toBe(404);
  });

  it('opens one standalone GET stream per session, with keep-alive headers, and 409 for a second', async () => {
    const id = await session();
    const ac = new AbortController();
    const first = await fetch(`${gw.url}/mcp`, {
      headers: { ...auth, accept: 'text/event-stream', 'mcp-session-id': id },
      signal: ac.signal,
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/event-stream');
    const second = await fetch(`${gw.url}/mcp`, {
      headers: { ...auth, accept: 'text/event-stream', 'mcp-session-id': id },
    });
    expect(second.status).toBe(409);
    const notSse = await fetch(`${gw.url}/mcp`, {
      headers: { ...auth, accept: 'application/json', 'mcp-session-id': id },
    });
    expect(notSse.status).toBe(406);
    ac.abort();
  });

  it('sends keep-alive comments on an idle stream', async () => {
    const id = await session();
    const ac = new AbortController();
    const r = await fetch(`${gw.url}/mcp`, {
      headers: { ...auth, accept: 'text/event-stream', 'mcp-session-id': id },
      signal: ac.signal,
    });
    const seen = await readUntil(r.body!.getReader(), ': keepalive');
    ac.abort();
    expect(seen).toContain(': keepalive\n\n');
  });

  it('delivers notifications sent before the agent opened its GET stream', async () => {
    const id = await session();
    // A catalog change is announced on the standalone stream; nobody is listening yet.
    await post(
      {
        jsonrpc: '2.0',
        id: 11,
        method: 'tools/call',
        params: { name: 'featio__add_tool', arguments: { text: 'late' } },
      },
      { ...jsonHeaders, 'mcp-session-id': id },
    );
    const ac = new AbortController();
    const r = await fetch(`${gw.url}/mcp`, {
      headers: { ...auth, accept: 'text/event-stream', 'mcp-session-id': id },
      signal: ac.signal,
    });
    const seen = await readUntil(r.body!.getReader(), 'list_changed');
    ac.abort();
    expect(seen).toContain('notifications/tools/list_changed');
  });

  it('resumes a POST stream from Last-Event-ID on GET', async () => {
    const id = await session();
    const headers = { ...jsonHeaders, accept: 'text/event-stream', 'mcp-session-id': id };
    const r = await post(
      { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'featio__echo', arguments: { text: 'resume' } } },
      headers,
    );
    const text = await r.text();
    const firstId = /^id: (\S+)/.exec(text)?.[1];
    expect(firstId).toBeTruthy();
    const replay = await fetch(`${gw.url}/mcp`, {
      headers: { ...auth, accept: 'text/event-stream', 'mcp-session-id': id, 'last-event-id': firstId! },
    });
    expect(await replay.text()).toContain('"feat:resume"');
  });

  it('keeps liveness open without credentials', async () => {
    const r = await fetch(`${gw.url}/healthz`);
    expect(r.status).toBe(200);
  });
});
