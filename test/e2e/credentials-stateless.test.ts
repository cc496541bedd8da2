// Per-user upstream credentials and requests without an agent session (MCP 2026-07-28 stateless
// requests): with `isolation: per_session` such a request has no agent session to key an upstream
// session by. It must still carry the caller's own credential, never the shared (catalog) session's:
// the operator's catalog header, or the first connected user's token.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileVaultStore } from '../../src/credentials/vault-store.js';
import { Vault, VaultKeys } from '../../src/credentials/vault.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

const V = '2026-07-28';
const KEYS = { alice: 'alice-key-0123456789', bob: 'bob-key-0123456789' };

let as: Spawned;
let gw: TestGateway;

beforeAll(async () => {
  const dir = tempDir('tollgate-creds-stateless-');
  as = await spawnListening([
    'test/fixtures/upstream-as.ts',
    '--subject-secret',
    randomBytes(32).toString('base64url'),
  ]);
  const asUrl = `http://127.0.0.1:${as.port}`;
  // Both users connected `notes` already (the fixture takes `static-<x>` as a token whose subject is itself).
  const key = randomBytes(32).toString('base64');
  const vaultFile = join(dir, 'vault.json');
  const vault = new Vault(new VaultKeys([{ id: 'k1', key }]), new FileVaultStore(vaultFile));
  for (const who of ['bob', 'alice'] as const)
    await vault.put('notes', who, { accessToken: `static-${who}`, issuer: asUrl, connectedAt: Date.now() });
  await vault.close();
  const up = `transport: streamable_http, url: "${asUrl}/mcp", protocol: 2025, isolation: per_session`;
  gw = await startGateway(`
auth:
  api_keys:
    - { agent: alice, key: ${KEYS.alice} }
    - { agent: bob, key: ${KEYS.bob} }
credentials:
  vault: { file: ${vaultFile}, keys: ["k1:${key}"] }
upstreams:
  notes: { ${up}, auth: { kind: oauth, client: { id: tollgate-web, secret: web-secret-0123456789 } } }
  team:
    ${up.replace(/, /g, '\n    ')}
    headers: { authorization: "Bearer static-operator" }
    auth: { kind: per_agent, agents: { alice: { headers: { authorization: "Bearer static-alice" } } } }
`);
});

afterAll(async () => {
  await gw?.close();
  await as?.kill();
});

/** A stateless 2026 request (no session). */
async function stateless(key: string, method: string, params: Record<string, unknown>, name?: string) {
  const r = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': V,
      'mcp-method': method,
      ...(name ? { 'mcp-name': name } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': V,
          'io.modelcontextprotocol/clientCapabilities': {},
          'io.modelcontextprotocol/clientInfo': { name: 'stateless', version: '1' },
        },
      },
    }),
  });
  return (await r.json()) as { result?: Record<string, unknown>; error?: { code: number } };
}

/** A stateless tools/call: the subject the upstream saw, or the error. */
async function whoami(key: string, tool: string): Promise<string> {
  const body = await stateless(key, 'tools/call', { name: tool, arguments: {} }, tool);
  if (body.error) return `error ${body.error.code}`;
  const content = body.result?.content as { text: string }[] | undefined;
  return /sub=(\S+)/.exec(content?.[0]?.text ?? '')?.[1] ?? JSON.stringify(body);
}

describe('per-user credentials on per_session upstreams, stateless requests', () => {
  it("each user's call carries that user's own oauth token, never the catalog session's (another user's)", async () => {
    expect(await whoami(KEYS.alice, 'notes__whoami')).toBe('static-alice');
    expect(await whoami(KEYS.bob, 'notes__whoami')).toBe('static-bob');
  });

  it("a per_agent secret is the agent's own, never the operator's catalog header", async () => {
    expect(await whoami(KEYS.alice, 'team__whoami')).toBe('static-alice');
    // Bob has no secret there: refused, not served with the operator's credential.
    expect(await whoami(KEYS.bob, 'team__whoami')).toMatch(/^error /);
  });

  it("never lists one user's resources (their account's data) to another user", async () => {
    for (const [me, other] of [
      ['alice', 'bob'],
      ['bob', 'alice'],
    ] as const) {
      const listed = JSON.stringify((await stateless(KEYS[me], 'resources/list', {})).result);
      expect(listed).not.toContain(`static-${other}`);
    }
  });

  it('never subscribes to resource updates for one user with the catalog session (another credential)', async () => {
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${KEYS.bob}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': V,
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'subscriptions/listen',
        params: {
          notifications: { resourceSubscriptions: ['notes+notes://static-alice/diary'] },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': V,
            'io.modelcontextprotocol/clientCapabilities': {},
            'io.modelcontextprotocol/clientInfo': { name: 'stateless', version: '1' },
          },
        },
      }),
    });
    // The first event is the acknowledgement: what the stream honours.
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    const ack = JSON.parse(/^data: (.*)$/m.exec(text)?.[1] ?? '{}') as { params?: { notifications?: unknown } };
    expect(ack.params?.notifications).toEqual({});
  });

  it('the unauthenticated /connections/start form reads at most a small body (no memory for a stranger to fill)', async () => {
    const origin = gw.url;
    // (/connections/revoke reads its form only for a user with a session cookie, and as capped.)
    for (const path of ['/connections/start']) {
      // Sent in chunks without Content-Length: the cap must hold while reading, not only on the header.
      const big = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode('t='));
          for (let i = 0; i < 64; i++) c.enqueue(new Uint8Array(16 * 1024).fill(0x61));
          c.close();
        },
      });
      const r = await fetch(`${gw.url}${path}`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: big,
        duplex: 'half',
      } as RequestInit);
      expect(r.status, path).toBe(413);
      await r.body?.cancel();
    }
  });
});
