// Legacy SSE under RFC 8707 resources (auth.oauth): a token bound to `/mcp/<server>` opens
// `/sse/<server>`, and its `POST /messages` (whose path names no server) is judged against the
// endpoint its session's stream was opened on. A token for another server, or a server token on a
// session of the aggregate `/sse`, is refused there with 401 and WWW-Authenticate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { FEATURE_SERVER, nodeArgsYaml } from '../helpers/compiled.js';
import { connect } from '../helpers/client.js';
import { codeFor, pkce, redeemCode, register } from '../helpers/oauth.js';

const BOB = { name: 'bob', password: 'bob-password-0123' };
// Never called: the code is read from the redirect's Location.
const CALLBACK = 'http://127.0.0.1:9/callback';

let gw: TestGateway;
let base: string;
const streams: AbortController[] = [];

beforeAll(async () => {
  const upstream = `{ transport: stdio, command: node, args: [${nodeArgsYaml(FEATURE_SERVER)}, --stdio] }`;
  gw = await startGateway(`
upstreams:
  feat: ${upstream}
  other: ${upstream}
auth:
  oauth:
    enabled: true
    users: [{ name: ${BOB.name}, password: ${BOB.password} }]
`);
  base = gw.url;
});
afterAll(async () => {
  for (const s of streams) s.abort();
  await gw?.close();
});

/** An access token of bob's for `resource` (a path under the gateway). */
async function tokenFor(resource: string): Promise<string> {
  const reg = await register(base, {
    client_name: 'legacy sse test',
    redirect_uris: [CALLBACK],
    token_endpoint_auth_method: 'none',
  });
  const clientId = reg.body.client_id as string;
  const { verifier, challenge } = pkce();
  const res = `${base}${resource}`;
  const code = await codeFor(base, { clientId, redirectUri: CALLBACK, challenge, resource: res }, BOB);
  const t = await redeemCode(base, { code, verifier, clientId, redirectUri: CALLBACK, resource: res });
  expect(t.status).toBe(200);
  return t.body.access_token as string;
}

/** Opens a legacy stream and returns the messages URL its `endpoint` event announces. */
async function openStream(path: string, token: string): Promise<string> {
  const ac = new AbortController();
  streams.push(ac);
  const res = await fetch(`${base}${path}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: ac.signal,
  });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  for (;;) {
    const m = /event: endpoint\ndata: (\S+)\n/.exec(text);
    if (m) return new URL(m[1] as string, base).href;
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before its endpoint event: ${text}`);
    text += value;
  }
}

const ping = (url: string, token: string) =>
  fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });

describe('legacy SSE with per-server tokens', () => {
  it('a token for /mcp/<server> works the whole legacy session on /sse/<server> (SDK client)', async () => {
    const token = await tokenFor('/mcp/feat');
    const client = await connect(`${base}/sse/feat`, { key: token, legacy: true });
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('echo');
      const r = (await client.callTool({ name: 'echo', arguments: { text: 'hi' } })) as CallToolResult;
      expect(r.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it("a token for another server, or a server's token on an aggregate /sse session, cannot post into it", async () => {
    const feat = await tokenFor('/mcp/feat');
    const other = await tokenFor('/mcp/other');
    const all = await tokenFor('/mcp');

    const featSession = await openStream('/sse/feat', feat);
    expect((await ping(featSession, feat)).status).toBe(202);
    // The /mcp resource is valid on every server's endpoint, so on this session too.
    expect((await ping(featSession, all)).status).toBe(202);
    const wrong = await ping(featSession, other);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata=".*", error="invalid_token"/);
    const body = (await wrong.json()) as { jsonrpc: string; id: null; error: { code: number; message: string } };
    expect(body.jsonrpc).toBe('2.0');
    expect(body.id).toBeNull();
    expect(body.error.message).toContain('token is for another resource');

    const aggregate = await openStream('/sse', all);
    expect((await ping(aggregate, all)).status).toBe(202);
    const narrow = await ping(aggregate, feat);
    expect(narrow.status).toBe(401);
    expect(narrow.headers.get('www-authenticate')).toContain('error="invalid_token"');
    await narrow.body?.cancel();

    // A session id nobody holds keeps /messages' own resource (/mcp): refused for a server token.
    const unknown = await ping(`${base}/messages?sessionId=nope`, feat);
    expect(unknown.status).toBe(401);
    await unknown.body?.cancel();
  });
});
