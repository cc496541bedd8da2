// People decide approvals with their own account (auth.oauth local users): the admin login page's
// "Sign in with your account" link runs the gateway's own authorization code + PKCE flow (driven over
// plain HTTP with a cookie jar, as a browser would), and the user session it ends in decides only
// the approvals whose rule names the user's group — recorded as user:<name> — and opens nothing
// else on the admin side. Removing the user from the config ends the session. One gateway, one
// upstream (stdio), approvals and OAuth state in memory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parseConfigText } from '../../src/config/load.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { Jar, get, hidden, postForm, tokenRequest } from '../helpers/oauth.js';

const ADMIN = 'admin-token-approval-users-1';
const ANN = { name: 'ann', password: 'ann-password-finance-1' }; // group finance
const BOB = { name: 'bob', password: 'bob-password-eng-2' }; // group eng
const POLICY = `
agent: tester
tools: { allow: ["feat__*"] }
approvals:
  - { tool: feat__echo, when: 'args.text.startsWith("pay")', ask: operators, approvers: ["group:finance"], timeout: 10m }
  - { tool: feat__echo, when: 'args.text.startsWith("ops")', ask: operators, timeout: 10m }
`;

let gw: TestGateway & { auditFile: string; pinsFile: string };
let base: string;
let agent: Client;

const configText = (users: { name: string; password: string; groups: string[] }[]) => `
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
policies: { dir: "${policiesDir}", watch: false }
pins: { enabled: false }
admin: { tokens: ["${ADMIN}"] }
${authYaml()}  oauth:
    enabled: true
    users:
${users.map((u) => `      - { name: ${u.name}, password: ${u.password}, groups: [${u.groups.join(', ')}] }`).join('\n')}
`;
let policiesDir: string;
const both = () =>
  configText([
    { ...ANN, groups: ['finance'] },
    { ...BOB, groups: ['eng'] },
  ]);

/** Signs in on the admin side through the account link, as a browser does; the jar then holds the session. */
async function signIn(user: { name: string; password: string }): Promise<Jar> {
  const jar = new Jar();
  const login = await (await get(`${base}/admin/login`, jar)).text();
  expect(login).toContain('href="/admin/oauth/start"');
  const start = await get(`${base}/admin/oauth/start`, jar);
  expect(start.status).toBe(303);
  const form = await get(start.headers.get('location') ?? '', jar);
  const html = await form.text();
  expect(html).toContain('action="/authorize/login"');
  const done = await postForm(`${base}/authorize/login`, jar, {
    txn: hidden(html, 'txn'),
    csrf: hidden(html, 'csrf'),
    username: user.name,
    password: user.password,
  });
  // No consent page for the admin side: straight back to its callback.
  expect(done.status).toBe(303);
  const back = done.headers.get('location') ?? '';
  expect(back.startsWith(`${base}/admin/oauth/callback?`)).toBe(true);
  const cb = await get(back, jar);
  expect(cb.status).toBe(200);
  expect(jar.cookies.has('tollgate_admin_user')).toBe(true);
  return jar;
}

const as = (jar: Jar, extra: Record<string, string> = {}) => ({ cookie: jar.header(), ...extra });

async function listed(jar: Jar): Promise<{ id: string; sha256: string; status: string; args: { text?: string } }[]> {
  const r = await fetch(`${base}/admin/approvals`, { headers: as(jar) });
  expect(r.status).toBe(200);
  return ((await r.json()) as { approvals: never[] }).approvals;
}

/** A decision as the page's script sends it (same-origin fetch with the session cookie). */
const decide = (jar: Jar, id: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetch(`${base}/admin/approvals/${id}`, {
    method: 'POST',
    headers: as(jar, { 'content-type': 'application/json', origin: base, ...headers }),
    body: JSON.stringify(body),
  });

/** The pending approval of a call whose text is `text`, as the admin token sees it. */
async function pending(text: string): Promise<{ id: string; sha256: string }> {
  let found: { id: string; sha256: string } | undefined;
  await waitUntil(async () => {
    const r = await fetch(`${base}/admin/approvals`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const all = ((await r.json()) as { approvals: { id: string; sha256: string; status: string; args: any }[] })
      .approvals;
    found = all.find((a) => a.args?.text === text && a.status === 'pending');
    return found !== undefined;
  }, 30_000);
  return found!;
}

const textOf = (r: unknown): string => (r as { content: { text?: string }[] }).content[0]?.text ?? '';

beforeAll(async () => {
  const dir = tempDir('tollgate-approval-users-');
  policiesDir = join(dir, 'policies');
  mkdirSync(policiesDir);
  writeFileSync(join(policiesDir, 'tester.yaml'), POLICY);
  gw = await startGateway(both());
  base = gw.url;
  agent = await connect(`${base}/mcp`);
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await gw?.close();
});

describe('approvers signed in with their account', () => {
  let ann: Jar;
  let bob: Jar;
  beforeAll(async () => {
    ann = await signIn(ANN);
    bob = await signIn(BOB);
  });

  it('a user in the rule group approves the held call: it runs, and the audit names user:<name>', async () => {
    const call = agent.callTool({ name: 'feat__echo', arguments: { text: 'pay-100' } });
    const p = await pending('pay-100');
    // ann's page is the approvals page; she sees the call, bob (not in finance) does not.
    const page = await (await fetch(`${base}/admin/`, { headers: as(ann) })).text();
    expect(page).toContain('id="approvals"');
    expect(page).toContain('user:ann');
    expect(page).not.toContain('Audit log');
    expect((await listed(ann)).map((a) => a.id)).toContain(p.id);
    expect((await listed(bob)).map((a) => a.id)).not.toContain(p.id);
    // bob may not decide it; a cross-site or Origin-less post of ann's is refused; the call stays held.
    expect((await decide(bob, p.id, { decision: 'approve' })).status).toBe(403);
    expect((await decide(ann, p.id, { decision: 'approve' }, { origin: 'http://evil.example' })).status).toBe(403);
    const noOrigin = await fetch(`${base}/admin/approvals/${p.id}`, {
      method: 'POST',
      headers: as(ann, { 'content-type': 'application/json' }),
      body: JSON.stringify({ decision: 'approve' }),
    });
    expect(noOrigin.status).toBe(403);
    expect((await listed(ann)).find((a) => a.id === p.id)?.status).toBe('pending');

    const ok = await decide(ann, p.id, { decision: 'approve', reason: 'budgeted', sha256: p.sha256 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ approval: { status: 'approved', decidedBy: 'user:ann' } });
    expect(textOf(await call)).toBe('feat:pay-100');
    const audit = await fetch(`${base}/admin/audit?decision=approval_approved`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const recs = ((await audit.json()) as { records: Record<string, any>[] }).records;
    const rec = recs.find((r) => r['tollgate.request.arguments']?.text === 'pay-100');
    expect(rec?.['tollgate.decision_reason']).toMatch(/approved by user:ann after .*: budgeted/);
  });

  it('a rule naming no approvers is for admin tokens only: not listed to users, 403 for them', async () => {
    const call = agent.callTool({ name: 'feat__echo', arguments: { text: 'ops-1' } });
    const p = await pending('ops-1');
    expect((await listed(ann)).map((a) => a.id)).not.toContain(p.id);
    expect((await decide(ann, p.id, { decision: 'approve' })).status).toBe(403);
    const byAdmin = await fetch(`${base}/admin/approvals/${p.id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve' }),
    });
    expect(byAdmin.status).toBe(200);
    expect(textOf(await call)).toBe('feat:ops-1');
  });

  it('the user session opens nothing else on the admin side', async () => {
    expect((await fetch(`${base}/admin/audit`, { headers: as(ann) })).status).toBe(401);
    expect((await fetch(`${base}/admin/api/audit`, { headers: as(ann) })).status).toBe(401);
    expect((await fetch(`${base}/admin/upstreams`, { headers: as(ann) })).status).toBe(401);
    expect((await fetch(`${base}/admin/agents/tester/usage`, { headers: as(ann) })).status).toBe(401);
    expect((await fetch(`${base}/admin/api/oauth/grants`, { headers: as(ann) })).status).toBe(401);
    const reload = await fetch(`${base}/admin/policies/reload`, { method: 'POST', headers: as(ann, { origin: base }) });
    expect(reload.status).toBe(401);
    // A Bearer header that is no admin token is not rescued by the session cookie.
    const wrong = await fetch(`${base}/admin/approvals`, { headers: as(ann, { authorization: 'Bearer nope' }) });
    expect(wrong.status).toBe(401);
  });

  it('the sign-in is bound to the browser that started it, and its code buys no token at /token', async () => {
    const jar = new Jar();
    const start = await get(`${base}/admin/oauth/start`, jar);
    const html = await (await get(start.headers.get('location') ?? '', jar)).text();
    const done = await postForm(`${base}/authorize/login`, jar, {
      txn: hidden(html, 'txn'),
      csrf: hidden(html, 'csrf'),
      username: ANN.name,
      password: ANN.password,
    });
    const back = new URL(done.headers.get('location') ?? '');
    const code = back.searchParams.get('code') ?? '';
    const refused = await tokenRequest(base, {
      grant_type: 'authorization_code',
      code,
      client_id: 'tollgate-admin',
      redirect_uri: `${base}/admin/oauth/callback`,
      code_verifier: 'x'.repeat(43),
    });
    expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    // Another browser (no sign-in cookie) cannot use the callback: no login CSRF.
    const other = new Jar();
    const cb = await get(back.href, other);
    expect(cb.status).toBe(401);
    expect(other.cookies.has('tollgate_admin_user')).toBe(false);
  });

  it('logout ends the session', async () => {
    const carol = await signIn(ANN);
    expect((await fetch(`${base}/admin/approvals`, { headers: as(carol) })).status).toBe(200);
    const out = await fetch(`${base}/admin/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: as(carol, { origin: base }),
    });
    expect(out.status).toBe(303);
    expect((await fetch(`${base}/admin/approvals`, { headers: as(carol) })).status).toBe(401);
  });

  const reparse = (text: string) =>
    parseConfigText(text, `${process.cwd()}/test-config.yaml`, {
      TOLLGATE_AUDIT_FILE: gw.auditFile,
      TOLLGATE_PINS_FILE: gw.pinsFile,
    }).config;

  it("a user's changed groups apply to a session at once", async () => {
    const call = agent.callTool({ name: 'feat__echo', arguments: { text: 'pay-150' } });
    const p = await pending('pay-150');
    const moved = configText([
      { ...ANN, groups: ['eng'] },
      { ...BOB, groups: ['eng'] },
    ]);
    expect(gw.gw.applyConfig(reparse(moved)).applied).toContain('auth');
    expect((await listed(ann)).map((a) => a.id)).not.toContain(p.id);
    expect((await decide(ann, p.id, { decision: 'approve' })).status).toBe(403);
    expect(gw.gw.applyConfig(reparse(both())).applied).toContain('auth');
    expect((await decide(ann, p.id, { decision: 'approve' })).status).toBe(200);
    expect(textOf(await call)).toBe('feat:pay-150');
  });

  it('a user removed from the config can no longer decide, nor when the name is listed again', async () => {
    const call = agent.callTool({ name: 'feat__echo', arguments: { text: 'pay-200' } });
    const p = await pending('pay-200');
    expect(gw.gw.applyConfig(reparse(configText([{ ...BOB, groups: ['eng'] }]))).applied).toContain('auth');
    await gw.gw.oauth?.usersApplied();
    expect((await fetch(`${base}/admin/approvals`, { headers: as(ann) })).status).toBe(401);
    expect((await decide(ann, p.id, { decision: 'approve' })).status).toBe(401);
    // Listed again (perhaps for someone else): the old session stays ended.
    expect(gw.gw.applyConfig(reparse(both())).applied).toContain('auth');
    await gw.gw.oauth?.usersApplied();
    expect((await decide(ann, p.id, { decision: 'approve' })).status).toBe(401);
    // Page visits go back to the login page.
    const page = await fetch(`${base}/admin/`, { redirect: 'manual', headers: as(ann) });
    expect(page.status).toBe(303);
    // Signing in again works, and decides.
    const again = await signIn(ANN);
    expect((await decide(again, p.id, { decision: 'deny', reason: 'not now' })).status).toBe(200);
    await expect(call).rejects.toThrow(/not now/);
  });
});

describe('signing in again and again', () => {
  /** One more admin-side sign-in through the login session at /authorize alone: no password, no consent. */
  async function silentSignIn(loginSession: string): Promise<string> {
    const jar = new Jar();
    jar.cookies.set('tg_oauth_session', loginSession);
    const start = await get(`${base}/admin/oauth/start`, jar);
    const code = await get(start.headers.get('location') ?? '', jar);
    expect(code.status).toBe(303);
    expect((await get(code.headers.get('location') ?? '', jar)).status).toBe(200);
    return jar.cookies.get('tollgate_admin_user') ?? '';
  }

  it("keeps a bounded number of a user's sessions in the store: the oldest end", async () => {
    const first = await signIn(ANN);
    const loginSession = first.cookies.get('tg_oauth_session') ?? '';
    expect(loginSession).not.toBe('');
    // Each round costs three cheap requests; without a bound every one left a session for an hour
    // (and with the file store rewrote the whole file).
    let last = '';
    for (let i = 0; i < 40; i++) last = await silentSignIn(loginSession);
    const held = (await gw.gw.oauth?.store.list<{ sub: string }>('admin-session:', Number.POSITIVE_INFINITY)) ?? [];
    expect(held.filter((e) => e.value.sub === ANN.name).length).toBeLessThanOrEqual(10);
    // The newest session works; the first one was ended to make room.
    const newest = await fetch(`${base}/admin/approvals`, { headers: { cookie: `tollgate_admin_user=${last}` } });
    expect(newest.status).toBe(200);
    expect((await fetch(`${base}/admin/approvals`, { headers: as(first) })).status).toBe(401);
  });
});
