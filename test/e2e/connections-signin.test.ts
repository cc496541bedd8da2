// With auth.oauth, the connections pages of per-user upstream credentials need the browser signed in
// as the link's user (the gateway's own login, as the admin side's approvers use): a link for alice
// opened in bob's browser connects nothing and shows nothing; a browser not signed in is sent to the
// login and comes back to the same link. Driven over plain HTTP with a cookie jar per "browser", as
// approvals-users.test.ts does; the upstream is an MCP server behind a real OAuth provider
// (oidc-provider, test/fixtures/upstream-as.ts) whose login form any name passes.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintLink } from '../../src/credentials/links.js';
import { VaultKeys } from '../../src/credentials/vault.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { Jar, get, hidden, postForm } from '../helpers/oauth.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

const ALICE = { name: 'alice', password: 'alice-password-0123' };
const BOB = { name: 'bob', password: 'bob-password-0123' };
const KEY = randomBytes(32).toString('base64');
const keys = new VaultKeys([{ id: 'k1', key: KEY }]);

let as: Spawned;
let gw: TestGateway;
let base: string;

beforeAll(async () => {
  const dir = tempDir('tollgate-conn-signin-');
  as = await spawnListening([
    'test/fixtures/upstream-as.ts',
    '--subject-secret',
    randomBytes(32).toString('base64url'),
  ]);
  const asUrl = `http://127.0.0.1:${as.port}`;
  gw = await startGateway(`
auth:
  api_keys: [{ agent: ci, key: ci-key-0123456789 }]
  oauth:
    enabled: true
    users:
      - { name: ${ALICE.name}, password: ${ALICE.password} }
      - { name: ${BOB.name}, password: ${BOB.password} }
credentials:
  vault: { file: ${join(dir, 'vault.json')}, keys: ["k1:${KEY}"] }
upstreams:
  notes:
    transport: streamable_http
    url: "${asUrl}/mcp"
    protocol: 2025
    isolation: per_agent
    auth: { kind: oauth, client: { id: tollgate-web, secret: web-secret-0123456789 } }
`);
  base = gw.url;
  await fetch(`${asUrl}/control/client`, {
    method: 'POST',
    body: JSON.stringify({
      client_id: 'tollgate-web',
      client_secret: 'web-secret-0123456789',
      redirect_uris: [`${base}/connections/callback`],
    }),
  });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await as?.kill();
});

/** A link as the gateway gives an agent in its -32042 answer (sealed with the vault key). */
const link = (agent: string, p: 'connect' | 'manage' = 'connect') =>
  mintLink(keys, base, { a: agent, u: p === 'connect' ? 'notes' : '', e: Date.now() + 600_000, p });
const tOf = (url: string) => new URL(url).searchParams.get('t') ?? '';
const relative = (url: string) => {
  const u = new URL(url, base);
  return `${u.pathname}${u.search}`;
};

/** The gateway's login page, from a redirect to /connections/oauth/start, back to the callback's page. */
async function login(jar: Jar, startUrl: string, user: { name: string; password: string }): Promise<Response> {
  const start = await get(new URL(startUrl, base).href, jar);
  expect(start.status).toBe(303);
  let res = await get(start.headers.get('location') ?? '', jar);
  if (res.status === 200) {
    const html = await res.text();
    expect(html).toContain('action="/authorize/login"');
    res = await postForm(`${base}/authorize/login`, jar, {
      txn: hidden(html, 'txn'),
      csrf: hidden(html, 'csrf'),
      username: user.name,
      password: user.password,
    });
  }
  // No consent page: the connections pages are the gateway's own.
  expect(res.status).toBe(303);
  const back = res.headers.get('location') ?? '';
  expect(back.startsWith(`${base}/connections/oauth/callback?`)).toBe(true);
  return get(back, jar);
}

/** Signs a fresh browser in to the connections pages. */
async function signedIn(user: { name: string; password: string }): Promise<Jar> {
  const jar = new Jar();
  const done = await login(jar, '/connections/oauth/start', user);
  expect(done.status).toBe(200);
  expect(jar.cookies.get('tollgate_connections_user')).toBeTruthy();
  return jar;
}

const confirm = (jar: Jar, url: string) =>
  postForm(`${base}/connections/start`, jar, { t: tOf(url) }, { origin: base });

/** The upstream provider's login form (any name), then its answer to the gateway's callback. */
async function passUpstream(jar: Jar, authUrl: string, login: string): Promise<Response> {
  let url = authUrl;
  for (let step = 0; step < 12; step++) {
    if (url.startsWith(`${base}/connections/callback`)) return get(url, jar);
    const res = await get(url, jar);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location') ?? '', url).href;
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no form at ${url}: ${res.status}`);
    const form: Record<string, string> = { prompt: hidden(html, 'prompt') };
    if (html.includes('name="login"')) Object.assign(form, { login, password: 'any' });
    const next = await postForm(new URL(action, url).href, jar, form);
    url = new URL(next.headers.get('location') ?? '', url).href;
  }
  throw new Error(`the provider's pages did not end at ${url}`);
}

/** The upstreams listed on this browser's connections page (and whose page it is). */
async function page(jar: Jar): Promise<{ status: number; who?: string; upstreams: string[] }> {
  const r = await get(`${base}/connections`, jar);
  const html = await r.text();
  return {
    status: r.status,
    who: /id="who">([^<]*)</.exec(html)?.[1],
    upstreams: [...html.matchAll(/data-upstream="([^"]+)"/g)].map((m) => m[1] ?? ''),
  };
}

describe('connections pages signed in with the front door', () => {
  let alice: Jar;
  let bob: Jar;
  beforeAll(async () => {
    alice = await signedIn(ALICE);
    bob = await signedIn(BOB);
  });

  it("a link for alice in bob's browser is refused (403) and connects nothing; alice's browser connects with it", async () => {
    const url = link('user:alice');
    const shown = await get(url, bob);
    expect(shown.status).toBe(403);
    expect(await shown.text()).toContain('id="not-yours"');
    const refused = await confirm(bob, url);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('location')).toBeNull();
    expect((await page(bob)).upstreams).toEqual([]);
    expect((await page(alice)).upstreams).toEqual([]);

    // The link was not used up: alice's browser goes on to the upstream's authorization with it.
    const mine = await get(url, alice);
    expect(mine.status).toBe(200);
    expect(await mine.text()).toContain('id="signed-in-as"');
    const go = await confirm(alice, url);
    expect(go.status).toBe(303);
    const done = await passUpstream(alice, go.headers.get('location') ?? '', 'alice@idp');
    expect(done.status).toBe(200);
    const html = await done.text();
    expect(html).toContain('id="connected"');
    // The result page leads to the page of the signed-in user, not to a sealed link.
    expect(html).toContain(`href="${base}/connections"`);
    expect(await page(alice)).toEqual({ status: 200, who: 'user:alice', upstreams: ['notes'] });
  });

  it('a browser not signed in is sent to sign in, then continues to the same link', async () => {
    const url = link('user:bob');
    const jar = new Jar();
    const sent = await confirm(jar, url);
    expect(sent.status).toBe(303);
    const to = sent.headers.get('location') ?? '';
    expect(to.startsWith('/connections/oauth/start?next=')).toBe(true);
    const back = await login(jar, to, BOB);
    expect(back.status).toBe(200);
    // Back to the link it came from (the refresh a Strict cookie needs, see signin-routes.ts).
    const refresh = back.headers.get('refresh') ?? '';
    expect(refresh).toBe(`0;url=${relative(url)}`);
    const again = await get(`${base}${refresh.slice('0;url='.length)}`, jar);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('id="signed-in-as"');
    const go = await confirm(jar, url);
    expect(go.status).toBe(303);
    expect((await passUpstream(jar, go.headers.get('location') ?? '', 'bob@idp')).status).toBe(200);
    expect(await page(jar)).toEqual({ status: 200, who: 'user:bob', upstreams: ['notes'] });
  });

  it("the connections page is the signed-in user's: alice's link shows alice hers, and is refused to bob", async () => {
    const manage = link('user:alice', 'manage');
    const opened = await get(manage, alice);
    expect(opened.status).toBe(303);
    expect(await page(alice)).toEqual({ status: 200, who: 'user:alice', upstreams: ['notes'] });

    const refused = await get(manage, bob);
    expect(refused.status).toBe(403);
    const body = await refused.text();
    expect(body).toContain('id="not-yours"');
    expect(body).not.toContain('data-upstream');
    // Bob's page stays his own (his connection only), and he cannot revoke alice's.
    expect(await page(bob)).toMatchObject({ who: 'user:bob' });
    const revoke = await postForm(`${base}/connections/revoke`, bob, { upstream: 'notes' }, { origin: base });
    expect(revoke.status).toBe(303);
    expect(await page(bob)).toMatchObject({ upstreams: [] });
    expect((await page(alice)).upstreams).toEqual(['notes']);

    // Not signed in: the page sends the browser to sign in (no sealed link names a user here).
    const none = await get(`${base}/connections`, new Jar());
    expect(none.status).toBe(303);
    expect(none.headers.get('location')).toBe('/connections/oauth/start?next=%2Fconnections');
  });

  it('identities without a login here (API keys) keep the sealed link alone', async () => {
    const jar = new Jar();
    const go = await confirm(jar, link('ci'));
    expect(go.status).toBe(303);
    expect(go.headers.get('location') ?? '').not.toContain('/connections/oauth/start');
    const manage = await get(link('ci', 'manage'), jar);
    expect(manage.status).toBe(303);
    expect(await page(jar)).toEqual({ status: 200, who: 'ci', upstreams: [] });
  });
});
