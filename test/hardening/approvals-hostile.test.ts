// Human approvals against a hostile agent and a changing policy, on a real gateway with the v1 SDK
// client as a 2025 agent: a yes given while the policies changed (or the tool's definition did)
// does not run what they now forbid or send to operators; calls waiting for the agent's own user
// count against the approval caps and end at once (void) when the instance stops; and a notice to a
// webhook that never answers does not outlive its approval (an agent raising and withdrawing
// approvals cannot pile up sockets).
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema, type McpError } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect, nextNotification } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const ADMIN = 'admin-token-approvals-hostile';
const admin = { authorization: `Bearer ${ADMIN}` };
const RULES = `
  - { tool: feat__echo, when: 'args.text.startsWith("user")', ask: user, timeout: 10m }
  - { tool: feat__echo, when: 'args.text.startsWith("ops")', ask: operators, timeout: 10m }
  - { tool: feat__touch, ask: operators, timeout: 10m }`;
const BASE = `agent: tester\ntools: { allow: ["feat__*"] }\napprovals:${RULES}\n`;

type View = { id: string; status: string; args: { text?: string }; rule: string };
type Settled = { value?: unknown; error?: McpError };

let feat: Spawned;
let gw: TestGateway & { auditFile: string };
let yaml: string;
let policyFile: string;
let hook: Server;
/** Notices the webhook got and has not answered (it never does): approval id → request. */
const notices = new Map<string, IncomingMessage>();

async function list(): Promise<View[]> {
  const r = await fetch(`${gw.url}/admin/approvals`, { headers: admin });
  return ((await r.json()) as { approvals: View[] }).approvals;
}

const decide = (id: string, decision: 'approve' | 'deny') =>
  fetch(`${gw.url}/admin/approvals/${id}`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ decision }),
  });

async function reload(policy: string): Promise<void> {
  writeFileSync(policyFile, policy);
  const r = await fetch(`${gw.url}/admin/policies/reload`, { method: 'POST', headers: admin });
  expect(r.status).toBe(200);
}

/** The call's outcome, kept for inspection once it settles. */
function track(p: Promise<unknown>): Settled & { done: () => boolean } {
  const s: Settled & { settled?: boolean; done: () => boolean } = { done: () => s.settled === true };
  p.then(
    (value) => Object.assign(s, { value, settled: true }),
    (error: McpError) => Object.assign(s, { error, settled: true }),
  );
  return s;
}

/** A 2025 agent whose user answers each approval question only when the test says. */
async function agentWithUser(url: string) {
  const agent = await connect(`${url}/mcp`, { capabilities: { elicitation: {} } });
  const asked: { message: string; answer: (action: 'accept' | 'decline') => void }[] = [];
  agent.setRequestHandler(
    ElicitRequestSchema,
    (req) =>
      new Promise((resolve) =>
        asked.push({ message: String(req.params.message), answer: (action) => resolve({ action }) }),
      ),
  );
  return { agent, asked };
}

beforeAll(async () => {
  feat = await spawnListening(['test/fixtures/feature-server.ts', '--port', '0', '--redefinable']);
  hook = createServer((req) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => notices.set((JSON.parse(body) as { approval: { id: string } }).approval.id, req));
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const dir = tempDir('tollgate-approvals-hostile-');
  policyFile = join(dir, 'tester.yaml');
  writeFileSync(policyFile, BASE);
  yaml = `
upstreams:
  feat: { transport: streamable_http, url: "http://127.0.0.1:${feat.port}/mcp" }
policies: { dir: "${dir}", watch: false }
approvals:
  max_pending_per_agent: 2
  webhook: { url: "http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook", timeout: 10m }
admin: { tokens: ["${ADMIN}"] }
${authYaml()}`;
  gw = await startGateway(yaml);
}, 90_000);

afterAll(async () => {
  await gw?.close();
  await feat?.kill();
  hook?.closeAllConnections();
  await new Promise((r) => hook?.close(r));
});

describe('a yes given while the policies changed', () => {
  let agent: Client;
  let asked: Awaited<ReturnType<typeof agentWithUser>>['asked'];
  beforeAll(async () => {
    ({ agent, asked } = await agentWithUser(gw.url));
  });
  afterAll(() => agent?.close());
  afterEach(() => reload(BASE));

  it("the agent's user says yes after a reload made the rule ask operators: operators are asked", async () => {
    const call = track(agent.callTool({ name: 'feat__echo', arguments: { text: 'user-then-ops' } }));
    await waitUntil(() => asked.length === 1, 30_000);
    await reload(BASE.replace('ask: user', 'ask: operators'));
    asked[0]!.answer('accept');
    let held: View | undefined;
    await waitUntil(async () => {
      held = (await list()).find((a) => a.args.text === 'user-then-ops' && a.status === 'pending');
      return held !== undefined || call.done();
    }, 30_000);
    expect(call.value).toBeUndefined(); // it did not run on the agent's own yes
    expect(held).toBeDefined();
    expect((await decide(held!.id, 'deny')).status).toBe(200);
    await waitUntil(call.done, 30_000);
    expect(call.error?.code).toBe(-32043);
  });

  it('an operator approves a call the policies no longer allow: it is refused as they now say', async () => {
    const call = track(agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-then-denied' } }));
    let held: View | undefined;
    await waitUntil(async () => {
      held = (await list()).find((a) => a.args.text === 'ops-then-denied' && a.status === 'pending');
      return held !== undefined;
    }, 30_000);
    await reload(BASE.replace('tools: { allow: ["feat__*"] }', 'tools: { allow: ["feat__*"], deny: ["feat__echo"] }'));
    expect((await decide(held!.id, 'approve')).status).toBe(200);
    await waitUntil(call.done, 30_000);
    expect(call.value).toBeUndefined();
    expect(call.error?.code).toBe(-32041);
    // The call's record says it was refused, by what, and that an operator had said yes.
    const record = readFileSync(gw.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find(
        (r) =>
          r['mcp.method.name'] === 'tools/call' &&
          (r['tollgate.request.arguments'] as { text?: string } | null)?.text === 'ops-then-denied' &&
          r['tollgate.decision'] !== 'approval_requested',
      );
    expect(record).toMatchObject({ 'tollgate.decision': 'denied' });
    expect(record?.['tollgate.decision_reason']).toMatch(/refused after it was approved by admin#1 after [\d.]+ s/);
  });

  it("an operator approves a call whose tool's definition changed meanwhile: the pin holds it", async () => {
    const call = track(agent.callTool({ name: 'feat__touch', arguments: { text: 'rug' } }));
    let held: View | undefined;
    await waitUntil(async () => {
      held = (await list()).find((a) => a.args.text === 'rug' && a.status === 'pending');
      return held !== undefined;
    }, 30_000);
    const changed = nextNotification(agent, 'notifications/tools/list_changed');
    await agent.callTool({ name: 'feat__redefine', arguments: { text: 'touch:now deletes everything' } });
    await changed;
    expect((await decide(held!.id, 'approve')).status).toBe(200);
    await waitUntil(call.done, 30_000);
    expect(call.value).toBeUndefined();
    expect(call.error?.code).toBe(-32041);
    expect(call.error?.message).toMatch(/feat__touch is held: its definition changed/);
  });
});

describe("calls waiting for the agent's own user", () => {
  it('count against max_pending_per_agent: one more is refused at once', async () => {
    const { agent, asked } = await agentWithUser(gw.url);
    try {
      const first = track(agent.callTool({ name: 'feat__echo', arguments: { text: 'user-1' } }));
      const second = track(agent.callTool({ name: 'feat__echo', arguments: { text: 'user-2' } }));
      await waitUntil(() => asked.length === 2, 30_000);
      const third = track(agent.callTool({ name: 'feat__echo', arguments: { text: 'user-3' } }));
      await waitUntil(() => asked.length === 3 || third.done(), 30_000);
      expect(asked.length).toBe(2);
      expect(third.error?.code).toBe(-32043);
      expect(third.error?.data).toMatchObject({ approval: { status: 'unavailable', ask: 'user' } });
      for (const q of asked) q.answer('decline');
      await waitUntil(() => first.done() && second.done(), 30_000);
    } finally {
      await agent.close();
    }
  });

  it('end at once as void when the instance stops, and the audit says so', async () => {
    const other = await startGateway(yaml);
    const { agent, asked } = await agentWithUser(other.url);
    try {
      const call = track(agent.callTool({ name: 'feat__echo', arguments: { text: 'user-stop' } }));
      await waitUntil(() => asked.length === 1, 30_000);
      // As `serve` stops (SIGTERM): calls in flight get up to the drain to finish.
      const stopped = track(other.gw.close(10_000));
      await waitUntil(call.done, 30_000);
      await waitUntil(stopped.done, 30_000);
      expect(call.error?.code).toBe(-32043);
      expect(call.error?.data).toMatchObject({ approval: { status: 'void', ask: 'user' } });
      const records = readFileSync(other.auditFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => (r['tollgate.request.arguments'] as { text?: string } | null)?.text === 'user-stop');
      expect(records.map((r) => r['tollgate.decision'])).toEqual(['approval_requested', 'approval_void']);
    } finally {
      await agent.close().catch(() => undefined);
    }
  });
});

describe('a webhook that never answers', () => {
  it('a withdrawn approval takes its notice with it: an agent cannot pile up sockets', async () => {
    const agent = await connect(`${gw.url}/mcp`);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const ac = new AbortController();
        const call = track(
          agent.callTool({ name: 'feat__echo', arguments: { text: `ops-cycle-${i}` } }, undefined, {
            signal: ac.signal,
          }),
        );
        let held: View | undefined;
        await waitUntil(async () => {
          held = (await list()).find((a) => a.args.text === `ops-cycle-${i}`);
          return held !== undefined && notices.has(held.id);
        }, 30_000);
        ids.push(held!.id);
        ac.abort();
        await waitUntil(
          async () => call.done() && (await list()).some((a) => a.id === held!.id && a.status === 'withdrawn'),
          30_000,
        );
      }
      // Each notice's connection is closed by the gateway once its approval is decided.
      await waitUntil(() => ids.every((id) => notices.get(id)?.socket?.destroyed !== false), 30_000);
    } finally {
      await agent.close();
    }
  });
});

describe('huge arguments', () => {
  it('an approval shows at most 16 KiB of them (held in memory or Redis, listed every 2 s), bound to all', async () => {
    const agent = await connect(`${gw.url}/mcp`);
    try {
      // 1 MB of values each under audit.max_value_bytes, so the audit's redaction keeps them all.
      const blob = Array.from({ length: 500 }, (_, i) => `${i}-`.padEnd(2000, 'x'));
      const call = track(agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-huge', blob } }));
      let held: View | undefined;
      let listed = 0;
      await waitUntil(async () => {
        const r = await fetch(`${gw.url}/admin/approvals`, { headers: admin });
        const body = await r.text();
        listed = body.length;
        held = (JSON.parse(body) as { approvals: View[] }).approvals.find((a) => a.status === 'pending');
        return held !== undefined;
      }, 30_000);
      expect(listed).toBeLessThan(32 * 1024);
      expect(held!.args).toMatchObject({ __truncated: true, length: expect.any(Number) });
      expect((held!.args as { length: number }).length).toBeGreaterThan(1_000_000);
      expect((held!.args as { head: string }).head).toContain('"text":"ops-huge"'); // the start stays readable
      expect((await decide(held!.id, 'approve')).status).toBe(200);
      await waitUntil(call.done, 30_000);
      expect(call.value).toMatchObject({ content: [{ text: 'feat:ops-huge' }] });
    } finally {
      await agent.close();
    }
  });
});
