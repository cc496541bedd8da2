// The admin API as an operator's tools use it: admin credentials only, audit queries over a real
// audit file, the live tail, usage, and the login cookie the web page relies on.
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes, type AdminDeps } from '../../src/admin/routes.js';
import { AuditRecorder, type AuditFields } from '../../src/audit/step.js';
import { openAuditWriter } from '../../src/audit/writer.js';
import { createRedactor } from '../../src/audit/redact.js';
import type { AuditLine, AuditRecord } from '../../src/audit/record.js';
import { tempDir } from '../helpers/tmp.js';

const TOKEN = 'admin-token-0123456789abcdef';
const AGENT_KEY = 'tg_agentkey0123456789abcdefghijklmnop';
const bearer = { authorization: `Bearer ${TOKEN}` };

let recorder: AuditRecorder;
let listeners = 0;
let reloadOk = true;
let app: Hono;

const call = (
  agent: string,
  tool: string,
  decision: AuditFields['tollgate.decision'] = 'allowed',
  args: AuditFields['tollgate.request.arguments'] = null,
): AuditFields => ({
  'gen_ai.agent.id': agent,
  'tollgate.auth.method': 'api_key',
  'mcp.method.name': 'tools/call',
  'gen_ai.tool.name': tool,
  'tollgate.upstream.name': tool.split('__')[0] ?? null,
  'tollgate.request.arguments': args,
  'tollgate.decision': decision,
  'tollgate.outcome': decision === 'allowed' ? 'ok' : 'jsonrpc_error',
  'tollgate.latency.total_ms': 3.25,
});

const get = (path: string, headers: Record<string, string> = bearer) => app.request(path, { headers });
const json = async <T>(path: string): Promise<T> => {
  const res = await get(path);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
};
type Page = { records: AuditLine[]; nextCursor?: string };

beforeAll(async () => {
  const dir = tempDir('tollgate-admin-api-');
  const redact = createRedactor({ keys: ['password'], maxValueBytes: 1024 });
  const writer = await openAuditWriter({ destination: { path: join(dir, 'audit.jsonl') }, redact });
  recorder = new AuditRecorder(writer, 'test-instance');
  for (let i = 0; i < 25; i++) await recorder.record(call('alice', 'github__search', 'allowed', { q: `query ${i}` }));
  await recorder.record(call('bob', 'fs__read_file', 'denied'));
  await recorder.record(call('alice', 'github__delete_repo', 'denied'));
  await recorder.record(call('carol', 'fs__write_file', 'rate_limited'));
  const deps: AdminDeps = {
    tokens: [TOKEN],
    tokenHashes: [],
    auditPath: join(dir, 'audit.jsonl'),
    recorder: {
      onRecord(l: (r: AuditRecord) => void) {
        listeners++;
        const off = recorder.onRecord(l);
        return () => {
          listeners--;
          return off();
        };
      },
    },
    upstreams: () => [{ name: 'github', transport: 'http', state: 'ready', tools: 12, prompts: 0, resources: 1 }],
    agents: () => ['alice', 'bob'],
    usage: async (agent) => [
      {
        name: 'calls',
        kind: 'requests',
        limit: 100,
        used: agent === 'alice' ? 27 : 1,
        remaining: agent === 'alice' ? 73 : 99,
        periodMs: 3_600_000,
        resetMs: 60_000,
      },
    ],
    reloadPolicies: () =>
      reloadOk ? { ok: true } : { ok: false, problems: ['alice.yaml: tools.allow must be a list'] },
    redact,
    sseKeepaliveMs: 20,
  };
  app = new Hono();
  app.route('/admin', adminRoutes(deps));
});
afterAll(() => recorder.close());

describe('admin credentials', () => {
  it('refuses requests without a credential, with a wrong one, and with an agent key', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token' },
      { authorization: `Bearer ${AGENT_KEY}` },
      { cookie: `tollgate_admin=${AGENT_KEY}` },
    ];
    for (const headers of attempts) {
      const res = await get('/admin/audit', headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(res.headers.get('content-type')).toContain('application/json');
    }
  });

  it('answers with the admin token, at /admin/audit and /admin/api/audit alike', async () => {
    const a = await json<Page>('/admin/audit');
    const b = await json<Page>('/admin/api/audit');
    expect(a.records).toHaveLength(28);
    expect(b.records.map((r) => r['tollgate.record.id'])).toEqual(a.records.map((r) => r['tollgate.record.id']));
    expect(a.nextCursor).toBeUndefined();
  });
});

describe('audit queries', () => {
  it('returns records newest first, filtered by agent, decision and tool glob', async () => {
    const all = await json<Page>('/admin/audit');
    expect(all.records[0]!['gen_ai.agent.id']).toBe('carol');
    expect(all.records.at(-1)!['tollgate.request.arguments']).toEqual({ q: 'query 0' });
    const bob = await json<Page>('/admin/audit?agent=bob');
    expect(bob.records.map((r) => r['gen_ai.tool.name'])).toEqual(['fs__read_file']);
    const denied = await json<Page>('/admin/audit?decision=denied');
    expect(denied.records.map((r) => r['gen_ai.tool.name'])).toEqual(['github__delete_repo', 'fs__read_file']);
    const both = await json<Page>('/admin/audit?decision=denied,rate_limited&tool=fs__*');
    expect(both.records.map((r) => r['gen_ai.agent.id'])).toEqual(['carol', 'bob']);
    const github = await json<Page>('/admin/audit?agent=alice&tool=github__*&server=github');
    expect(github.records).toHaveLength(26);
    expect((await json<Page>('/admin/audit?since=1h')).records).toHaveLength(28);
    expect((await json<Page>(`/admin/audit?until=${Date.now() - 3_600_000}`)).records).toHaveLength(0);
  });

  it('rejects malformed parameters with 400 and says why', async () => {
    for (const q of ['decision=maybe', 'since=yesterday', 'limit=0', 'limit=ten']) {
      const res = await get(`/admin/audit?${q}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { problems: string[] }).problems[0]).toMatch(/^(decision|since|limit)/);
    }
  });

  it('pages back in time with limit and cursor, each record exactly once', async () => {
    const everything = (await json<Page>('/admin/audit')).records.map((r) => r['tollgate.record.id']);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await json<Page>(`/admin/audit?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.records.length).toBeLessThanOrEqual(10);
      seen.push(...page.records.map((r) => r['tollgate.record.id']));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(everything);
    // Filters and paging together.
    const first = await json<Page>('/admin/audit?agent=alice&limit=20');
    const second = await json<Page>(`/admin/audit?agent=alice&limit=20&cursor=${first.nextCursor}`);
    expect([...first.records, ...second.records]).toHaveLength(26);
    expect(second.nextCursor).toBeUndefined();
    expect((await json<Page>('/admin/audit?limit=5000')).records).toHaveLength(28); // capped at 1000, not refused
  });
});

describe('live tail', () => {
  it('streams each matching record as it is written, redacted, and lets go on disconnect', async () => {
    const res = await get('/admin/audit/stream?agent=alice');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (pred: (t: string) => boolean): Promise<void> => {
      while (!pred(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += value;
      }
    };
    await readUntil((t) => t.includes(': keep-alive'));
    expect(listeners).toBe(1);
    await recorder.record(call('bob', 'fs__read_file')); // filtered out
    await recorder.record(call('alice', 'github__search', 'allowed', { q: 'live', password: 'hunter2' }));
    await readUntil((t) => t.includes('data: '));
    const data = text.split('\n').filter((l) => l.startsWith('data: '));
    expect(data).toHaveLength(1);
    const rec = JSON.parse(data[0]!.slice(6)) as AuditRecord;
    expect(rec['gen_ai.agent.id']).toBe('alice');
    expect(rec['tollgate.request.arguments']).toEqual({ q: 'live', password: '[REDACTED]' });
    expect(text).toContain(`id: ${rec['tollgate.record.id']}`);
    await reader.cancel();
    expect(listeners).toBe(0);
  });
});

describe('usage, upstreams, policies', () => {
  it('shows an agent’s usage against each limit', async () => {
    const body = await json<{ agent: string; limits: Array<{ used: number; limit: number }> }>(
      '/admin/agents/alice/usage',
    );
    expect(body).toMatchObject({
      agent: 'alice',
      limits: [{ name: 'calls', kind: 'requests', used: 27, limit: 100, remaining: 73 }],
    });
    expect(await json('/admin/api/upstreams')).toEqual([
      { name: 'github', transport: 'http', state: 'ready', tools: 12, prompts: 0, resources: 1 },
    ]);
  });

  it('reloads policies, 422 with the problems when they do not load', async () => {
    const post = (headers: Record<string, string>) =>
      app.request('/admin/policies/reload', { method: 'POST', headers });
    expect((await post(bearer)).status).toBe(200);
    reloadOk = false;
    const bad = await post(bearer);
    reloadOk = true;
    expect(bad.status).toBe(422);
    expect(await bad.json()).toEqual({ ok: false, problems: ['alice.yaml: tools.allow must be a list'] });
  });
});

describe('login cookie and CSRF', () => {
  const login = (token: string, url = 'http://localhost/admin/login', origin?: string) =>
    app.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(origin ? { origin } : {}) },
      body: new URLSearchParams({ token }).toString(),
    });

  it('sends a browser without the cookie to the login form', async () => {
    for (const path of ['/admin', '/admin/']) {
      const res = await get(path, {});
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/admin/login');
    }
    const form = await get('/admin/login', {});
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('name="token"');
    expect((await get('/admin/no-such-page')).status).toBe(404);
  });

  it('sets an HttpOnly, SameSite=Strict cookie that opens the page; a wrong token gets the form again', async () => {
    const wrong = await login(AGENT_KEY, undefined, 'http://localhost');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(await wrong.text()).toContain('not an admin token');

    const ok = await login(TOKEN, undefined, 'http://localhost');
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/admin/');
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^tollgate_admin=/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/admin');
    expect(cookie).not.toContain('Secure');
    expect(
      (await login(TOKEN, 'https://localhost/admin/login', 'https://localhost')).headers.get('set-cookie'),
    ).toContain('Secure');
    expect((await login(TOKEN, undefined, 'https://evil.example')).status).toBe(403);

    const page = await get('/admin/', { cookie: cookie.split(';')[0]! });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('github__delete_repo');
    const nonce = /script-src 'nonce-([^']+)'/.exec(page.headers.get('content-security-policy') ?? '')?.[1];
    expect(nonce).toBeDefined();
    expect(html).toContain(`<script nonce="${nonce}">`);
  });

  it('escapes what agents sent (tool names are the agent’s own text)', async () => {
    await recorder.record(call('mallory', '<img src=x onerror=alert(1)></script>'));
    const html = await (await get('/admin/')).text();
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img src=x');
  });

  it('refuses a cross-site POST even with a valid cookie', async () => {
    const cookie = (await login(TOKEN, undefined, 'http://localhost')).headers.get('set-cookie')!.split(';')[0]!;
    const post = (headers: Record<string, string>) =>
      app.request('/admin/policies/reload', { method: 'POST', headers: { cookie, ...headers } });
    expect((await post({ origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ origin: 'null' })).status).toBe(403);
    expect((await post({})).status).toBe(403); // a cookie alone, no Origin: not a same-origin browser request
    expect((await post({ origin: 'http://localhost', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: 'http://localhost' })).status).toBe(200);
    const out = await app.request('/admin/logout', { method: 'POST', headers: { cookie, origin: 'http://localhost' } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^tollgate_admin=;.*Max-Age=0/);
  });

  it('the cookie is an opaque session, not the admin token: the token itself is no cookie, and logout ends the session', async () => {
    const set = (await login(TOKEN, undefined, 'http://localhost')).headers.get('set-cookie')!;
    const cookie = set.split(';')[0]!;
    expect(cookie).not.toContain(TOKEN);
    expect(set).toContain('Max-Age=43200'); // 12 h
    expect((await get('/admin/audit', { cookie })).status).toBe(200);
    expect((await get('/admin/audit', { cookie: `tollgate_admin=${TOKEN}` })).status).toBe(401);
    // A character in the middle: the last base64url character carries unused bits, so changing
    // it may leave the decoded bytes (and so the MAC) the same.
    const mid = Math.floor(cookie.length * 0.75);
    const forged = cookie.slice(0, mid) + (cookie[mid] === 'A' ? 'B' : 'A') + cookie.slice(mid + 1);
    expect((await get('/admin/audit', { cookie: forged })).status).toBe(401);
    await app.request('/admin/logout', { method: 'POST', headers: { cookie, origin: 'http://localhost' } });
    expect((await get('/admin/audit', { cookie })).status).toBe(401); // a copy kept after logout is dead
    // Nor can it be revived by respelling its MAC's last character (unused bits in base64url).
    const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = cookie.slice(0, -1) + B64URL[B64URL.indexOf(cookie.at(-1)!) ^ 1];
    expect(Buffer.from(respelled.split('.').at(-1)!, 'base64url')).toEqual(
      Buffer.from(cookie.split('.').at(-1)!, 'base64url'),
    ); // the same MAC bytes
    expect((await get('/admin/audit', { cookie: respelled })).status).toBe(401);
  });
});

describe('admin sessions', () => {
  const clock = { ms: Date.UTC(2026, 0, 1) };
  const appWith = (tokens: string[], extra: Partial<AdminDeps> = {}) => {
    const a = new Hono();
    const deps: AdminDeps = {
      tokens,
      tokenHashes: [],
      auditPath: undefined,
      recorder: { onRecord: () => () => undefined },
      upstreams: () => [],
      agents: () => [],
      usage: async () => [],
      reloadPolicies: () => ({ ok: true }),
      now: () => clock.ms,
      sessionKeys: [Buffer.alloc(32, 7)],
      ...extra,
    };
    a.route('/admin', adminRoutes(deps));
    return a;
  };
  const signIn = async (a: Hono, token: string) =>
    (
      await a.request('http://localhost/admin/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
        body: new URLSearchParams({ token }).toString(),
      })
    ).headers.get('set-cookie')!;

  it('expires after 12 hours', async () => {
    const a = appWith([TOKEN]);
    const cookie = (await signIn(a, TOKEN)).split(';')[0]!;
    clock.ms += 12 * 3600_000 - 1000;
    expect((await a.request('/admin/upstreams', { headers: { cookie } })).status).toBe(200);
    clock.ms += 2000;
    expect((await a.request('/admin/upstreams', { headers: { cookie } })).status).toBe(401);
  });

  it('ends when the admin token that signed in is removed (another instance with the same keys)', async () => {
    const before = appWith([TOKEN, 'second-admin-token-0123456789']);
    const cookie = (await signIn(before, TOKEN)).split(';')[0]!;
    const other = (await signIn(before, 'second-admin-token-0123456789')).split(';')[0]!;
    const after = appWith(['second-admin-token-0123456789']);
    expect((await after.request('/admin/upstreams', { headers: { cookie } })).status).toBe(401);
    expect((await after.request('/admin/upstreams', { headers: { cookie: other } })).status).toBe(200);
  });

  it('is Secure when the public URL is https, even when TLS ends in front of the gateway', async () => {
    expect(await signIn(appWith([TOKEN], { secureCookies: true }), TOKEN)).toContain('Secure');
    expect(await signIn(appWith([TOKEN]), TOKEN)).not.toContain('Secure');
  });
});
