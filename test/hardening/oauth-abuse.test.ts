// A hostile client against Tollgate's own authorization server (auth.oauth), over plain HTTP: what
// the bounds on logins and pending authorizations hold under concurrency and floods. One in-process
// gateway with a memory store and two local users; no browser.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { Jar, authorizeUrl, get, hidden, pkce, postForm, register } from '../helpers/oauth.js';

const ALICE = { name: 'alice', password: 'alice-password-1' };
const BOB = { name: 'bob', password: 'bob-password-2' };
const CALLBACK = 'http://127.0.0.1:9/callback';

let gw: TestGateway;
let base: string;

beforeAll(async () => {
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
auth:
  api_keys: [{ agent: keyed, key: api-key-for-oauth-abuse-0123 }]
  oauth:
    enabled: true
    users:
      - { name: alice, password: ${ALICE.password} }
      - { name: bob, password: ${BOB.password} }
    login_attempts: { max: 3, max_per_address: 6, window: 1h }
`);
  base = gw.url;
});
afterAll(async () => {
  await gw?.close();
});

async function newClient(): Promise<string> {
  const r = await register(base, {
    client_name: 'abuse',
    redirect_uris: [CALLBACK],
    token_endpoint_auth_method: 'none',
  });
  expect(r.status).toBe(201);
  return r.body.client_id as string;
}

/** A fresh login page: its cookie jar and form tokens. */
async function loginForm(clientId: string) {
  const jar = new Jar();
  const res = await get(authorizeUrl(base, { clientId, redirectUri: CALLBACK, challenge: pkce().challenge }), jar);
  expect(res.status).toBe(200);
  const html = await res.text();
  return { jar, txn: hidden(html, 'txn'), csrf: hidden(html, 'csrf') };
}

describe('login throttling', () => {
  it('concurrent guesses cannot overtake the per-user bound: at most `max` are checked', async () => {
    const clientId = await newClient();
    const f = await loginForm(clientId);
    // Ten guesses in flight at once: the bound is taken before the (slow) password check, so only three
    // are ever checked; the rest are refused without trying the password.
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        postForm(`${base}/authorize/login`, f.jar, {
          txn: f.txn,
          csrf: f.csrf,
          username: 'carol',
          password: `guess-${i}`,
        }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
  });

  it('successful logins do not use up the per-address bound', async () => {
    const clientId = await newClient();
    // More successful logins from one address than max_per_address (6) allows failures.
    for (let i = 0; i < 8; i++) {
      const f = await loginForm(clientId);
      const r = await postForm(`${base}/authorize/login`, f.jar, { txn: f.txn, csrf: f.csrf, ...loginOf(BOB) });
      expect(r.status, `login ${i}`).toBe(200);
    }
  });
});

const loginOf = (u: { name: string; password: string }) => ({ username: u.name, password: u.password });
