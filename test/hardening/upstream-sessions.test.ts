// Upstream sessions of their own (`isolation: per_session`) as a hostile agent meets them: one agent
// must never share another's upstream session, nor start (and use up) sessions of an upstream its
// policy hides. Real gateway, real fixture upstreams, raw requests (2026 stateless and 2025 sessions).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { FEATURE_SERVER, nodeArgsYaml } from '../helpers/compiled.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { openRawSession, rawHeaders } from '../helpers/raw-session.js';

const V = '2026-07-28';
const KEYS = { alice: 'alice-key-0123456789', bob: 'bob-key-0123456789' };

let up: Spawned;
let gw: TestGateway;

beforeAll(async () => {
  up = await spawnListening([FEATURE_SERVER, '--port', '0', '--tag', 'own']);
  const dir = tempDir('tollgate-upstream-sessions-');
  writeFileSync(join(dir, 'alice.yaml'), 'agent: alice\ntools: { allow: ["own__*"] }\n');
  writeFileSync(join(dir, 'bob.yaml'), 'agent: bob\ntools: { allow: ["own__*", "hid__*"] }\n');
  gw = await startGateway(`
upstreams:
  own: { transport: streamable_http, url: "http://127.0.0.1:${up.port}/mcp", isolation: per_session }
  hid: { transport: stdio, command: node, args: [${nodeArgsYaml(FEATURE_SERVER)}, --stdio, --tag, hid], isolation: per_session, max_sessions: 1 }
auth: { api_keys: [{ agent: alice, key: ${KEYS.alice} }, { agent: bob, key: ${KEYS.bob} }] }
policies: { dir: ${dir} }
`);
});
afterAll(async () => {
  await gw?.close();
  await up?.kill();
});

type Answer = { result?: { content: { text: string }[] }; error?: { code: number; message: string } };

/** A 2026 stateless tools/call (no session); `session` adds a 2025 session's id, which 2026 ignores. */
async function statelessCall(key: string, name: string, session?: string): Promise<Answer> {
  const r = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': V,
      'mcp-method': 'tools/call',
      'mcp-name': name,
      ...(session ? { 'mcp-session-id': session } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name,
        arguments: {},
        _meta: {
          'io.modelcontextprotocol/protocolVersion': V,
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  });
  return (await r.json()) as Answer;
}

async function sessionCall(key: string, session: string, name: string): Promise<Answer> {
  const r = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { ...rawHeaders(key), 'mcp-session-id': session },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } }),
  });
  return (await r.json()) as Answer;
}

/** The upstream session a call reached: the fixture's `headers` tool echoes the request's headers. */
const upstreamSessionOf = (a: Answer): string => {
  const text = a.result?.content[0]?.text;
  expect(text, JSON.stringify(a)).toBeDefined();
  return String((JSON.parse(text as string) as Record<string, unknown>)['mcp-session-id']);
};

describe('per_session upstream sessions and hostile agents', () => {
  it("a stateless (2026) call never runs in another agent's upstream session", async () => {
    const alice = upstreamSessionOf(await statelessCall(KEYS.alice, 'own__headers'));
    const bob = upstreamSessionOf(await statelessCall(KEYS.bob, 'own__headers'));
    // A 2025 agent that adds the 2026 envelope leaves its session: it must not land in a shared one.
    const s = await openRawSession(`${gw.url}/mcp`, KEYS.alice);
    const inSession = upstreamSessionOf(await sessionCall(KEYS.alice, s, 'own__headers'));
    const switched = upstreamSessionOf(await statelessCall(KEYS.alice, 'own__headers', s));
    expect(new Set([alice, bob, inSession]).size).toBe(3);
    expect(switched).toBe(alice); // the agent's own stateless session, still not bob's
    expect(upstreamSessionOf(await statelessCall(KEYS.alice, 'own__headers'))).toBe(alice);
  });

  it('names of an upstream the policy hides open none of its sessions (others keep max_sessions)', async () => {
    // alice may use nothing of `hid`: asking for names it does not list, over sessions and
    // statelessly, must not start `hid` processes for her.
    for (let i = 0; i < 3; i++) {
      const s = await openRawSession(`${gw.url}/mcp`, KEYS.alice);
      expect((await sessionCall(KEYS.alice, s, `hid__nope${i}`)).error?.code).toBe(-32602);
    }
    expect((await statelessCall(KEYS.alice, 'hid__nope')).error?.code).toBe(-32602);
    // bob may: his call gets the one session `hid` allows.
    const s = await openRawSession(`${gw.url}/mcp`, KEYS.bob);
    const r = await sessionCall(KEYS.bob, s, 'hid__echo');
    expect(r.result?.content[0]?.text, JSON.stringify(r)).toBe('hid:');
  });
});
