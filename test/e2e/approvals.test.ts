// Human approval of tool calls, as agents and operators meet it: the v1 SDK client as a 2025 agent
// answering the gateway's elicitation (accept, decline, timeout, no elicitation at all), the v2 SDK
// client as a 2026 agent through input_required, and calls held for operators on two gateway
// instances sharing Redis (shown and decided on B, held on A): argument binding, cancel while
// pending, concurrent approvals of one agent, a restart of the holding instance, the webhook notice
// and the audit; and the operator's page in a real browser (headless Chromium): a call held on A
// appears by itself on B's admin page, Approve releases it, Deny gives the agent the reason.
// One upstream, one pair of gateways, one webhook receiver, one browser for the whole file.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema, type McpError } from '@modelcontextprotocol/sdk/types.js';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { modernHeaders } from '../helpers/raw-session.js';
import { connect } from '../helpers/client.js';
import { ensureRedis, REDIS_HOST, REDIS_PORT, dropPrefix } from '../helpers/redis.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js';
import type { Page } from 'playwright-core';

const available = await ensureRedis();
if (!available) console.warn('!!! SKIPPING the approvals tests: no Redis at 127.0.0.1:6379');

const prefix = `tollgate-test:approvals:${randomUUID().slice(0, 8)}:`;
const ADMIN = 'admin-token-approvals-1';
const POLICY = `
agent: tester
tools: { allow: ["feat__*"], deny: ["feat__headers"] }
approvals:
  - { tool: feat__headers, ask: operators }
  - { tool: feat__echo, when: 'args.text.startsWith("user")', ask: user, timeout: 2m }
  - { tool: feat__echo, when: 'args.text.startsWith("brief")', ask: user, timeout: 1s }
  - { tool: feat__echo, when: 'args.text.startsWith("fallback")', ask: user, fallback: operators }
  - tool: feat__echo
    when: 'args.text.startsWith("ops")'
    ask: operators
    timeout: 10m
    message: "Needs an operator"
    approvers: ["group:finance"]
`;

let feat: Spawned;
let a: TestGateway & { auditFile: string };
let b: TestGateway;
let yaml: string;
let redis: Redis;
let hook: Server;
const notices: Record<string, any>[] = [];

const admin = { authorization: `Bearer ${ADMIN}` };
type ApprovalView = {
  id: string;
  status: string;
  tool: string;
  agent: string;
  sha256: string;
  args: any;
  holder: string;
  decidedBy?: string;
  reason?: string;
};

async function approvals(gw: TestGateway): Promise<ApprovalView[]> {
  const r = await fetch(`${gw.url}/admin/approvals`, { headers: admin });
  return ((await r.json()) as { approvals: ApprovalView[] }).approvals;
}

/** The pending approval of a call whose text is `text`, once the instance lists it. */
async function pendingOn(gw: TestGateway, text: string): Promise<ApprovalView> {
  let found: ApprovalView | undefined;
  await waitUntil(async () => {
    found = (await approvals(gw)).find((x) => x.args?.text === text && x.status === 'pending');
    return found !== undefined;
  }, 30_000);
  return found!;
}

function decide(gw: TestGateway, id: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${gw.url}/admin/approvals/${id}`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const text = (r: unknown): string => (r as { content: { text?: string }[] }).content[0]?.text ?? '';
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the call was not refused');
    },
    (e: unknown) => e as McpError,
  );

describe.runIf(available)('approvals', () => {
  beforeAll(async () => {
    feat = await spawnListening(['test/fixtures/feature-server.ts', '--port', '0']);
    redis = new Redis(REDIS_PORT, REDIS_HOST);
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        notices.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const policies = tempDir('tollgate-approvals-policies-');
    writeFileSync(join(policies, 'tester.yaml'), POLICY);
    yaml = `
upstreams:
  feat: { transport: streamable_http, url: "http://127.0.0.1:${feat.port}/mcp" }
policies: { dir: "${policies}", watch: false }
pins: { enabled: false }
approvals:
  store: redis
  keepalive: 1s
  webhook: { url: "http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook" }
limits: { redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}" } }
sessions: { seal_keys: ["${Buffer.alloc(32, 7).toString('base64')}"] }
admin: { tokens: ["${ADMIN}"] }
${authYaml()}`;
    a = await startGateway(yaml);
    b = await startGateway(yaml);
  }, 90_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await feat?.kill();
    await new Promise((r) => hook?.close(r));
    await dropPrefix(redis, prefix);
    await redis.quit();
  });

  describe('ask: user, a 2025 agent (v1 SDK client)', () => {
    let agent: Client;
    let answer: 'accept' | 'decline' | 'never' = 'accept';
    const asked: any[] = [];
    beforeAll(async () => {
      agent = await connect(`${a.url}/mcp`, { capabilities: { elicitation: {} } });
      agent.setRequestHandler(ElicitRequestSchema, async (req) => {
        asked.push(req.params);
        if (answer === 'never') return new Promise(() => undefined);
        return { action: answer };
      });
    });
    afterAll(() => agent?.close());

    it('accept: the call runs, and the request named the tool, its description and redacted arguments', async () => {
      answer = 'accept';
      const r = await agent.callTool({ name: 'feat__echo', arguments: { text: 'user-ok', api_key: 'sk-live-123456' } });
      expect(text(r)).toBe('feat:user-ok');
      const msg = String(asked.at(-1)?.message);
      expect(msg).toContain('feat__echo');
      expect(msg).toContain('echo (feat)');
      expect(msg).toContain('user-ok');
      expect(msg).not.toContain('sk-live-123456');
      // A call no rule names is never asked about.
      const before = asked.length;
      expect(text(await agent.callTool({ name: 'feat__echo', arguments: { text: 'plain' } }))).toBe('feat:plain');
      expect(asked.length).toBe(before);
    });

    it('decline: -32043 with data.approval, and the tool never runs', async () => {
      answer = 'decline';
      const e = await refusal(agent.callTool({ name: 'feat__echo', arguments: { text: 'user-no' } }));
      expect(e.code).toBe(-32043);
      expect(e.data).toMatchObject({ approval: { status: 'declined', ask: 'user' } });
    });

    it('no answer within the rule timeout: -32043 timed_out', async () => {
      answer = 'never';
      const e = await refusal(agent.callTool({ name: 'feat__echo', arguments: { text: 'brief' } }));
      expect(e.code).toBe(-32043);
      expect(e.data).toMatchObject({ approval: { status: 'timed_out' } });
    });
  });

  describe('an agent without elicitation', () => {
    it('fallback deny: refused at once; fallback operators: held until an operator approves', async () => {
      const agent = await connect(`${a.url}/mcp`);
      try {
        const e = await refusal(agent.callTool({ name: 'feat__echo', arguments: { text: 'user-cannot' } }));
        expect(e.code).toBe(-32043);
        expect(e.data).toMatchObject({ approval: { status: 'unavailable', ask: 'user' } });

        const call = agent.callTool({ name: 'feat__echo', arguments: { text: 'fallback-1' } });
        const p = await pendingOn(b, 'fallback-1');
        expect((await decide(b, p.id, { decision: 'approve' })).status).toBe(200);
        expect(text(await call)).toBe('feat:fallback-1');
      } finally {
        await agent.close();
      }
    });
  });

  describe('ask: operators, held on A, decided on B (Redis)', () => {
    let agent: Client;
    beforeAll(async () => {
      agent = await connect(`${a.url}/mcp`);
    });
    afterAll(() => agent?.close());

    it('approve releases the call; progress keeps it alive; the webhook got a notice with a link', async () => {
      const progress: number[] = [];
      const call = agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-approve' } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
        resetTimeoutOnProgress: true,
      });
      const p = await pendingOn(b, 'ops-approve');
      expect(p).toMatchObject({ agent: 'tester', tool: 'feat__echo', holder: a.gw.config.instanceId });
      await waitUntil(() => progress.length > 0, 30_000);
      await waitUntil(() => notices.some((n) => n.approval?.id === p.id), 30_000);
      expect(notices.find((n) => n.approval?.id === p.id)?.url).toContain(`/admin/#approval-${p.id}`);
      const ok = await decide(b, p.id, { decision: 'approve', reason: 'looks fine', sha256: p.sha256 });
      expect(ok.status).toBe(200);
      expect(text(await call)).toBe('feat:ops-approve');
      // Decided once: a second decision is a conflict.
      expect((await decide(a, p.id, { decision: 'deny' })).status).toBe(409);
    });

    it('deny gives the agent -32043 with the reason and who decided', async () => {
      const call = refusal(agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-deny' } }));
      const p = await pendingOn(b, 'ops-deny');
      expect((await decide(b, p.id, { decision: 'deny', reason: 'not this week' })).status).toBe(200);
      const e = await call;
      expect(e.code).toBe(-32043);
      expect(e.message).toContain('not this week');
      expect(e.data).toMatchObject({
        approval: { id: p.id, status: 'denied', reason: 'not this week', decidedBy: 'admin#1' },
      });
    });

    it('binds the decision to the arguments shown: another hash is refused, the call stays held', async () => {
      const call = agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-bound' } });
      const p = await pendingOn(b, 'ops-bound');
      const wrong = await decide(b, p.id, { decision: 'approve', sha256: 'f'.repeat(64) });
      expect(wrong.status).toBe(409);
      expect((await approvals(a)).find((x) => x.id === p.id)?.status).toBe('pending');
      expect((await decide(b, p.id, { decision: 'approve', sha256: p.sha256 })).status).toBe(200);
      expect(text(await call)).toBe('feat:ops-bound');
    });

    it('refuses decisions without a credential, from another origin, or with a malformed body', async () => {
      const call = agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-hostile' } });
      const p = await pendingOn(b, 'ops-hostile');
      const post = (headers: Record<string, string>, body: string) =>
        fetch(`${b.url}/admin/approvals/${p.id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        });
      const good = JSON.stringify({ decision: 'approve' });
      expect((await post({}, good)).status).toBe(403); // no Origin and no Bearer: not a form this page sent
      expect((await post({ authorization: `Bearer ${TEST_KEY}` }, good)).status).toBe(401); // an agent key is no admin token
      expect((await post({ origin: 'http://evil.example' }, good)).status).toBe(403);
      expect((await post({ ...admin, 'sec-fetch-site': 'cross-site' }, good)).status).toBe(403);
      expect((await post(admin, '{"decision":"yes"}')).status).toBe(400);
      expect((await post(admin, JSON.stringify({ decision: 'deny', reason: 'x'.repeat(501) }))).status).toBe(400);
      expect((await post(admin, 'x'.repeat(9000))).status).toBe(413);
      expect((await decide(b, 'apr_AAAAAAAAAAAAAAAA', { decision: 'approve' })).status).toBe(404);
      expect((await decide(b, '../pins', { decision: 'approve' })).status).toBe(404);
      expect((await approvals(a)).find((x) => x.id === p.id)?.status).toBe('pending');
      await decide(b, p.id, { decision: 'deny' });
      await expect(call).rejects.toThrow(/-32043|approval denied/);
    });

    it("the agent's cancel withdraws the approval", async () => {
      const ac = new AbortController();
      const call = agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-cancel' } }, undefined, {
        signal: ac.signal,
      });
      const p = await pendingOn(b, 'ops-cancel');
      ac.abort();
      await expect(call).rejects.toThrow();
      await waitUntil(async () => (await approvals(b)).find((x) => x.id === p.id)?.status === 'withdrawn', 30_000);
      expect((await decide(b, p.id, { decision: 'approve' })).status).toBe(409);
    });

    it('concurrent approvals of one agent are decided one by one', async () => {
      const texts = ['ops-c1', 'ops-c2', 'ops-c3'];
      const calls = texts.map((t) =>
        agent.callTool({ name: 'feat__echo', arguments: { text: t } }).then(text, (e: McpError) => e.code),
      );
      const pending = await Promise.all(texts.map((t) => pendingOn(b, t)));
      expect(new Set(pending.map((x) => x.id)).size).toBe(3);
      await decide(b, pending[1]!.id, { decision: 'deny' });
      await decide(b, pending[2]!.id, { decision: 'approve' });
      await decide(b, pending[0]!.id, { decision: 'approve' });
      expect(await Promise.all(calls)).toEqual(['feat:ops-c1', -32043, 'feat:ops-c3']);
    });

    it('a call the policy refuses never asks anyone (approvals come after the allow-list)', async () => {
      const before = (await approvals(b)).length;
      const e = await refusal(agent.callTool({ name: 'feat__headers', arguments: {} }));
      expect(e.code).toBe(-32041);
      expect((await approvals(b)).length).toBe(before);
    });

    it('a user not in the approvers may not decide (the approver check); admin tokens may', async () => {
      const { mayApprove } = await import('../../src/approvals/approver.js');
      expect(mayApprove({ kind: 'user', id: 'bob', groups: ['eng'] }, ['group:finance'])).toBe(false);
      expect(mayApprove({ kind: 'user', id: 'ann', groups: ['finance'] }, ['group:finance'])).toBe(true);
      expect(mayApprove({ kind: 'admin', id: 'admin#1', groups: [] }, ['group:finance'])).toBe(true);
    });

    it('every step is audited and filterable as approval_*', async () => {
      const r = await fetch(`${a.url}/admin/audit?decision=approval_*&limit=200`, { headers: admin });
      expect(r.status).toBe(200);
      const recs = ((await r.json()) as { records: Record<string, any>[] }).records;
      const decisions = new Set(recs.map((x) => x['tollgate.decision']));
      for (const d of [
        'approval_requested',
        'approval_approved',
        'approval_denied',
        'approval_timed_out',
        'approval_withdrawn',
      ])
        expect(decisions).toContain(d);
      const approved = recs.find(
        (x) =>
          x['tollgate.decision'] === 'approval_approved' && x['tollgate.request.arguments']?.text === 'ops-approve',
      );
      expect(approved?.['tollgate.decision_reason']).toMatch(/approved by admin#1 after [\d.]+ s .*: looks fine/);
      const metrics = await (await fetch(`${a.url}/metrics`)).text();
      expect(metrics).toMatch(/tollgate_approvals_total\{ask="operators",outcome="approved"\} [1-9]/);
    });
  });

  describe('ask: user, a 2026 agent (v2 SDK client) through input_required', () => {
    it('accept runs the call; decline is -32043; a retry with other arguments is refused', async () => {
      const client = new ModernClient(
        { name: 'v2-agent', version: '2.0.0' },
        { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } },
      );
      let answer = 'accept';
      const asked: string[] = [];
      client.setRequestHandler('elicitation/create', async (req: any) => {
        asked.push(String(req.params.message));
        return { action: answer } as never;
      });
      await client.connect(
        new ModernTransport(new URL(`${a.url}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${TEST_KEY}` } },
        }),
      );
      try {
        expect(text(await client.callTool({ name: 'feat__echo', arguments: { text: 'user-2026' } }))).toBe(
          'feat:user-2026',
        );
        expect(asked.at(-1)).toContain('feat__echo');
        answer = 'decline';
        const e = (await client
          .callTool({ name: 'feat__echo', arguments: { text: 'user-2026-no' } })
          .catch((x: unknown) => x)) as {
          code: number;
        };
        expect(e.code).toBe(-32043);
      } finally {
        await client.close();
      }
      // By hand: the state is bound to the arguments it asked about.
      const post = (params: Record<string, unknown>, gw: TestGateway = a) =>
        fetch(`${gw.url}/mcp`, {
          method: 'POST',
          headers: modernHeaders(TEST_KEY, 'tools/call', 'feat__echo'),
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: {
              name: 'feat__echo',
              ...params,
              _meta: {
                'io.modelcontextprotocol/protocolVersion': '2026-07-28',
                'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
              },
            },
          }),
        }).then((r) => r.json() as Promise<Record<string, any>>);
      const first = await post({ arguments: { text: 'user-bound' } });
      expect(first.result).toMatchObject({
        resultType: 'input_required',
        inputRequests: { tollgate_approval: { method: 'elicitation/create' } },
      });
      const changed = await post({
        arguments: { text: 'user-bound-but-other' },
        requestState: first.result.requestState,
        inputResponses: { tollgate_approval: { action: 'accept' } },
      });
      expect(changed.error).toMatchObject({ code: -32043, data: { approval: { status: 'mismatch' } } });
      // An accepted state is good once, on every instance sharing the store (B opens A's state).
      const again = await post({ arguments: { text: 'user-once' } });
      const accepted = {
        arguments: { text: 'user-once' },
        requestState: again.result.requestState,
        inputResponses: { tollgate_approval: { action: 'accept' } },
      };
      expect((await post(accepted)).result).toMatchObject({ content: [{ text: 'feat:user-once' }] });
      expect((await post(accepted, b)).error).toMatchObject({
        code: -32602,
        message: expect.stringContaining('already used'),
      });
    });
  });

  describe.skipIf(!chromiumAvailable())('the admin page (Chromium): held on A, decided on B', () => {
    let browser: Awaited<ReturnType<typeof launchChromium>>;
    let page: Page;
    let agent: Client;
    const pageErrors: string[] = [];
    beforeAll(async () => {
      agent = await connect(`${a.url}/mcp`);
      browser = await launchChromium();
      page = await browser.context.newPage();
      page.setDefaultTimeout(30_000);
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) pageErrors.push(m.text());
      });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await page.goto(`${b.url}/admin/login`);
      await page.fill('input[name="token"]', ADMIN);
      await page.click('button[type="submit"]');
      await page.waitForURL(`${b.url}/admin/`);
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await agent?.close();
    });

    it('a held call appears by itself; Approve releases it and the agent gets the result', async () => {
      await page.locator('#approvals-count').filter({ hasText: 'waiting' }).waitFor();
      const call = agent.callTool({
        name: 'feat__echo',
        arguments: { text: 'ops-page', password: 'pw-secret-1', note: '<img src=x onerror="window.__pwned=1">' },
      });
      const row = page.locator('#approvals-list .apr[data-status="pending"]', { hasText: '"ops-page"' });
      await row.waitFor();
      expect(await row.locator('strong').textContent()).toBe('feat__echo');
      expect(await row.textContent()).toContain('Needs an operator');
      const args = await row.locator('.apr-args').textContent();
      expect(args).toContain('ops-page');
      expect(args).not.toContain('pw-secret-1'); // redacted as in the audit
      // Agent-supplied text is shown as text, never run as HTML.
      expect(args).toContain('<img src=x');
      expect(await page.evaluate('typeof globalThis.__pwned')).toBe('undefined');
      expect(await page.locator('#approvals-list img').count()).toBe(0);
      await row.getByRole('button', { name: 'Approve' }).click();
      expect(text(await call)).toBe('feat:ops-page');
      const done = page.locator('#approvals-list .apr[data-status="approved"]', { hasText: '"ops-page"' });
      await done.waitFor();
      expect(await done.textContent()).toContain('by admin (page)');
    });

    it('Deny with a reason gives the agent -32043 with that reason', async () => {
      const call = refusal(agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-page-deny' } }));
      const row = page.locator('#approvals-list .apr[data-status="pending"]', { hasText: 'ops-page-deny' });
      await row.waitFor();
      await row.locator('input[name="reason"]').fill('not on a Friday');
      await row.getByRole('button', { name: 'Deny' }).click();
      const e = await call;
      expect(e.code).toBe(-32043);
      expect(e.message).toContain('not on a Friday');
      expect(e.data).toMatchObject({ approval: { status: 'denied', reason: 'not on a Friday' } });
      expect(pageErrors).toEqual([]);
    });
  });

  describe('restart of the holding instance', () => {
    it('the held call fails clearly, the approval is void on every admin page, and cannot be decided', async () => {
      const agent = await connect(`${a.url}/mcp`);
      const call = refusal(agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-restart' } }));
      const p = await pendingOn(b, 'ops-restart');
      await a.close();
      const e = await call;
      expect(e.code).toBe(-32043);
      expect(e.data).toMatchObject({ approval: { id: p.id, status: 'void' } });
      await agent.close().catch(() => undefined);
      a = await startGateway(yaml);
      const seen = (await approvals(a)).find((x) => x.id === p.id);
      expect(seen).toMatchObject({ status: 'void', reason: expect.stringContaining('shut down') });
      expect((await decide(b, p.id, { decision: 'approve' })).status).toBe(409);
    });
  });
});
