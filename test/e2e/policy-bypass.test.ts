// Policies hold against an upstream that is lenient where policies are exact (issue 14, items 4–7):
// the fixture matches names case-insensitively after NFKC, reads `file:` URIs after decoding and
// resolving `..`, records the notifications it receives, and completes with values naming secrets.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { waitUntil } from '../helpers/wait.js';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const textOf = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;
const ALICE = 'tg_alice-bypass-0123456789abcdef';
const OPS = 'tg_ops-bypass-0123456789abcdef';
const fixture = (tag: string, extra = '') =>
  `{ transport: stdio, protocol: "2025", timeouts: { connect: 60s }, command: node, args: [${nodeArgsYaml('test/fixtures/lenient-server.ts')}, --tag, ${tag}]${extra} }`;

let dir: string;
let gw: TestGateway & { auditFile: string };
const clients: Client[] = [];
let alice: Client;
let ops: Client;
const open = async (path: string, key: string, opts: Parameters<typeof connect>[1] = {}) => {
  const c = await connect(`${gw.url}${path}`, { key, ...opts });
  clients.push(c);
  return c;
};
const audit = (): Record<string, unknown>[] =>
  readFileSync(gw.auditFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-bypass-'));
  writeFileSync(
    join(dir, 'alice.yaml'),
    `agent: alice
identities: { api_key_hashes: ["${hashApiKey(ALICE)}"] }
tools: { allow: ["srv__*", "own__*"], deny: ["srv__denied"] }
prompts: { allow: ["srv__*"], deny: ["srv__secret_prompt"] }
resources: { allow: ["srv+file:///public/*"] }
`,
  );
  writeFileSync(
    join(dir, 'ops.yaml'),
    `agent: ops
identities: { api_key_hashes: ["${hashApiKey(OPS)}"] }
tools: { allow: ["*"] }
prompts: { allow: ["*"] }
resources: { allow: ["*"] }
`,
  );
  gw = await startGateway(`
upstreams:
  srv: ${fixture('srv')}
  hid: ${fixture('hid')}
  own: ${fixture('own', ', isolation: per_session')}
policies: { dir: ${dir}, watch: false }
`);
  // A loaded machine starts three tsx children slowly: wait for every catalog before the first call.
  await waitUntil(() => gw.gw.upstreams.every((u) => u.state === 'ready' && u.catalog.tools.length > 0), 60_000);
  alice = await open('/mcp', ALICE, { capabilities: { sampling: {}, roots: { listChanged: true } } });
  ops = await open('/mcp', OPS);
}, 60_000);
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await gw?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('names not exactly in the catalog never reach the upstream (item 4)', () => {
  // First: a miss refreshes a list at most every 5 s, and the refusals below are misses too.
  it('fetches a stale catalog again before calling a name unknown (the upstream added a tool silently)', async () => {
    await ops.callTool({ name: 'srv__add_silently', arguments: {} });
    expect(textOf(await alice.callTool({ name: 'srv__late', arguments: {} }))).toBe('srv:late ran');
  });

  it.each(['srv__DENIED', 'srv__Denied', 'srv__ｄｅｎｉｅｄ', 'srv__ＤＥＮＩＥＤ', 'srv__denieD'])(
    'refuses %s as an unknown tool (-32602)',
    async (name) => {
      await expect(alice.callTool({ name, arguments: {} })).rejects.toThrow(/-32602.*Unknown tool/);
    },
  );

  it('still refuses the exact name by policy, and runs an allowed one', async () => {
    await expect(alice.callTool({ name: 'srv__denied', arguments: {} })).rejects.toThrow(/-32041.*access denied/);
    expect(textOf(await alice.callTool({ name: 'srv__allowed', arguments: {} }))).toBe('srv:allowed ran');
  });

  it('holds on the per-server endpoint /mcp/srv, for tools and prompts', async () => {
    const single = await open('/mcp/srv', ALICE);
    await expect(single.callTool({ name: 'DENIED', arguments: {} })).rejects.toThrow(/-32602.*Unknown tool: DENIED/);
    await expect(single.callTool({ name: 'denied', arguments: {} })).rejects.toThrow(/-32041/);
    await expect(single.getPrompt({ name: 'SECRET_PROMPT' })).rejects.toThrow(/-32602.*Unknown prompt/);
  });

  it('does not relay another spelling of an MCP method (an upstream matching methods loosely)', async () => {
    // Case and width, and what a server trimming or cleaning names would drop: spaces, controls,
    // invisible format characters. Each is the gateway's -32601, never forwarded (policies would
    // judge it as a custom method `srv__<method>`, which `srv__*` allows).
    for (const method of ['Tools/Call', 'tools/call ', '\ttools/call', 'tools/call\u0000', 'tools/\u200bcall']) {
      const call = { method, params: { name: 'srv__denied', arguments: {} } };
      await expect(alice.request(call as never, CallToolResultSchema)).rejects.toThrow(`method not found: ${method}`);
      expect(audit().findLast((r) => r['mcp.method.name'] === method)).toMatchObject({
        'tollgate.upstream.name': null,
        'tollgate.latency.upstream_ms': null,
      });
    }
  });

  it('refuses prompt name variants on /mcp', async () => {
    await expect(alice.getPrompt({ name: 'srv__Secret_Prompt' })).rejects.toThrow(/-32602.*Unknown prompt/);
    await expect(alice.getPrompt({ name: 'srv__secret_prompt' })).rejects.toThrow(/-32041/);
    const ok = await alice.getPrompt({ name: 'srv__open_prompt' });
    expect(JSON.stringify(ok.messages)).toContain('srv:open_prompt text');
  });

  it('records each refusal in the audit log as denied, naming the catalog', async () => {
    const rec = audit().find((r) => r['gen_ai.tool.name'] === 'srv__DENIED');
    expect(rec).toMatchObject({
      'tollgate.decision': 'denied',
      'tollgate.decision_rule': 'not in the srv catalog',
      'tollgate.outcome': 'jsonrpc_error',
      'rpc.response.status_code': '-32602',
      'tollgate.latency.upstream_ms': null, // never forwarded
    });
  });
});

describe('resource URIs are normalised before matching, and forwarded normalised (item 5)', () => {
  // Each is an attempt to read srv's /secret/b.txt under alice's `srv+file:///public/*`.
  const traversals = [
    'srv+file:///public/../secret/b.txt',
    'srv+file:///public/%2e%2e/secret/b.txt',
    'srv+file:///public/%2E%2E/secret/b.txt',
    'srv+file:///public/.%2e/secret/b.txt',
    'srv+file:///public/%2e./secret/b.txt',
    'srv+file:///public/./../secret/b.txt',
    'srv+file:///public/sub/../../secret/b.txt',
    'srv+FILE:///public/../secret/b.txt',
    'srv+file:///public/..%2fsecret/b.txt',
    'srv+file:///public/..%2Fsecret%2Fb.txt',
    'srv+file:///public/..\\secret\\b.txt',
    'srv+file:///public/..%5csecret/b.txt',
    'srv+file:///public/%252e%252e/secret/b.txt',
    'srv+file:///public/\uff0e\uff0e/secret/b.txt',
    'srv+file:///public/%EF%BC%8E%EF%BC%8E/secret/b.txt',
    'srv+file:///public/..;/secret/b.txt',
    'srv+file:///public/a.txt%00/../../secret/b.txt',
  ];
  it.each(traversals)('%s is refused', async (uri) => {
    await expect(alice.readResource({ uri })).rejects.toThrow(/-32041|-32602/);
  });

  it('forwards the normal form: the upstream receives file:///public/a.txt', async () => {
    for (const uri of ['srv+file:///public/./sub/../a.txt', 'srv+file:///public/%61.txt', 'srv+FILE:///public/a.txt']) {
      const r = await alice.readResource({ uri });
      expect(r.contents[0]).toMatchObject({ uri: 'srv+file:///public/a.txt', text: 'public a' });
    }
  });

  it('decides on the normal form for an agent allowed everything too', async () => {
    const r = await ops.readResource({ uri: 'srv+file:///public/../secret/b.txt' });
    expect(r.contents[0]).toMatchObject({ uri: 'srv+file:///secret/b.txt', text: 'SECRET B' });
  });
});

describe('agent notifications reach only what concerns the agent (item 6)', () => {
  const seen = async (client: Client, server: string) =>
    (JSON.parse(textOf(await client.callTool({ name: `${server}__seen`, arguments: {} }))) as { method: string }[])
      .map((n) => n.method)
      .filter((m) => m !== 'notifications/initialized');

  it('drops arbitrary notifications, stray progress and shared-upstream roots changes; relays the agent’s own', async () => {
    await alice.notification({ method: 'notifications/whatever', params: { x: 1 } } as never);
    await alice.notification({ method: 'notifications/progress', params: { progressToken: 1, progress: 5 } });
    await alice.notification({ method: 'notifications/cancelled', params: { requestId: 4242 } });
    await alice.callTool({ name: 'own__allowed', arguments: {} }); // opens alice's own per_session upstream
    await alice.sendRootsListChanged();
    // Calls after the notifications travel the same ordered pipes: what `seen` lacks was never sent.
    expect(await seen(ops, 'hid')).toEqual([]);
    expect(await seen(ops, 'srv')).toEqual([]);
    expect(await seen(alice, 'own')).toEqual(['notifications/roots/list_changed']);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_agent_notifications_dropped_total\{reason="not_forwarded"\} [1-9]/);
    expect(metrics).toMatch(/tollgate_agent_notifications_dropped_total\{reason="unknown_request"\} [1-9]/);
  });

  it('relays progress on an upstream’s request to the agent, to that upstream only', async () => {
    alice.setRequestHandler(CreateMessageRequestSchema, async (req, extra) => {
      const token = req.params._meta?.progressToken;
      if (token !== undefined)
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: 7 },
        });
      return { role: 'assistant', content: { type: 'text', text: 'ok' }, model: 'm' };
    });
    // The agent's progress and its answer are two HTTP POSTs: on a loaded machine the answer can
    // overtake the progress, so the tool may finish before it arrives. It reaches that upstream all the same.
    expect(['progress:[7]', 'progress:[]']).toContain(
      textOf(await alice.callTool({ name: 'srv__sample', arguments: {} })),
    );
    expect(await seen(ops, 'srv')).toContain('notifications/progress');
    expect(await seen(ops, 'hid')).toEqual([]);
  });
});

describe('completion values pass the same decision as lists (item 7)', () => {
  const complete = (ref: Record<string, string>, client = alice) =>
    client.complete({ ref: ref as never, argument: { name: ref.type === 'ref/prompt' ? 'topic' : 'name', value: '' } });

  it('removes URI values the agent may not read from a prompt completion', async () => {
    const r = await complete({ type: 'ref/prompt', name: 'srv__open_prompt' });
    expect(r.completion.values).toEqual(['file:///public/a.txt', 'plain: text', 'https://x/y']);
    expect(r.completion.total).toBe(3);
  });

  it('removes template values that would leave what the agent may read', async () => {
    const r = await complete({ type: 'ref/resource', uri: 'srv+file:///public/{name}' });
    expect(r.completion.values).toEqual(['a.txt', 'sub/c.txt']);
    const all = await complete({ type: 'ref/resource', uri: 'srv+file:///public/{name}' }, ops);
    // allowed everything, ops keeps the traversals too, but not a value that makes no valid URI (`\`)
    expect(all.completion.values).toEqual(['a.txt', 'sub/c.txt', '../secret/b.txt', '%2e%2e/secret/b.txt']);
  });

  it('refuses refs to denied, unknown or variant prompts and templates', async () => {
    await expect(complete({ type: 'ref/prompt', name: 'srv__secret_prompt' })).rejects.toThrow(/-32041/);
    await expect(complete({ type: 'ref/prompt', name: 'srv__SECRET_PROMPT' })).rejects.toThrow(
      /-32602.*Unknown prompt/,
    );
    await expect(complete({ type: 'ref/resource', uri: 'srv+file:///{path}' })).rejects.toThrow(/-32041/);
    await expect(complete({ type: 'ref/resource', uri: 'srv+file:///public/../{path}' })).rejects.toThrow(
      /-32602.*Unknown resource template/,
    );
  });
});
