// The admin surface against whoever reaches it without being an operator: someone guessing the admin
// or metrics token, a page's live tail outliving the session that opened it, query times that broke
// the page, and method names an agent makes up turned into /metrics series. A real gateway over HTTP; clients are told apart by X-Forwarded-For from a trusted
// proxy (the test itself, on 127.0.0.1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGateway, TEST_KEY } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { OPERATOR_MAX_FAILURES } from '../../src/auth/operator-attempts.js';
import { openRawSession, rawHeaders } from '../helpers/raw-session.js';

const ADMIN = 'admin-token-0123456789';
const METRICS = 'metrics-token-0123456789';
let gw: Awaited<ReturnType<typeof startGateway>>;
let client: Client;

beforeAll(async () => {
  gw = await startGateway(`
server: { trusted_proxies: [127.0.0.1] }
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }
admin: { tokens: [${ADMIN}] }
metrics: { token: ${METRICS} }
`);
  client = await connect(`${gw.url}/mcp`);
});
afterAll(async () => {
  await client?.close();
  await gw?.close();
});

const from = (ip: string) => ({ 'x-forwarded-for': ip });
const login = (token: string, ip: string) =>
  fetch(`${gw.url}/admin/login`, {
    method: 'POST',
    body: new URLSearchParams({ token }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...from(ip) },
    redirect: 'manual',
  });
const api = (path: string, token: string, ip: string) =>
  fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token}`, ...from(ip) } });
const cookieOf = (res: Response): string => (res.headers.get('set-cookie') ?? '').split(';')[0] as string;

describe('guessing operator tokens', () => {
  it('wrong admin and metrics tokens are bounded per address; past the bound the right one is not compared', async () => {
    // A request without any token guesses nothing (a scraper or browser not set up yet): not counted.
    const unset = '203.0.113.67';
    for (let i = 0; i <= OPERATOR_MAX_FAILURES; i++) {
      const res = await fetch(`${gw.url}/metrics`, { headers: from(unset) });
      await res.body?.cancel();
      expect(res.status).toBe(401);
    }
    expect((await api('/metrics', METRICS, unset)).status).toBe(200);

    const guesser = '203.0.113.66';
    // Every way of presenting one counts: the login form, a Bearer header on the API, /metrics.
    for (let i = 0; i < OPERATOR_MAX_FAILURES; i++) {
      const res =
        i % 3 === 0
          ? await login(`guess-${i}-xxxxxxxx`, guesser)
          : await api(i % 3 === 1 ? '/admin/audit' : '/metrics', `guess-${i}-xxxxxxxx`, guesser);
      await res.body?.cancel();
      expect(res.status).toBe(401);
    }
    const signIn = await login(ADMIN, guesser);
    expect(signIn.status).toBe(429);
    expect(signIn.headers.get('set-cookie')).toBeNull();
    await signIn.body?.cancel();
    for (const [path, token] of [
      ['/admin/audit', ADMIN],
      ['/metrics', METRICS],
    ] as const) {
      const res = await api(path, token, guesser);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      await res.body?.cancel();
    }

    // The operator elsewhere is not held back by someone else's guesses.
    const operator = '203.0.113.7';
    const ok = await login(ADMIN, operator);
    expect(ok.status).toBe(303);
    expect(cookieOf(ok)).toMatch(/^tollgate_admin=v1\./);
    expect((await api('/admin/audit', ADMIN, operator)).status).toBe(200);
    expect((await api('/metrics', METRICS, operator)).status).toBe(200);
  });
});

describe('the live tail', () => {
  it('a stream the page opened ends with its session: records written after logout are not sent', async () => {
    const ip = '203.0.113.8';
    const cookie = cookieOf(await login(ADMIN, ip));
    const page = await fetch(`${gw.url}/admin/audit/stream`, { headers: { cookie, ...from(ip) } });
    const bearer = await fetch(`${gw.url}/admin/audit/stream`, {
      headers: { authorization: `Bearer ${ADMIN}`, ...from(ip) },
    });
    expect(page.status).toBe(200);
    expect(bearer.status).toBe(200);
    const pageReader = page.body!.getReader();
    const bearerReader = bearer.body!.getReader();
    const decoder = new TextDecoder();
    // Until the stream ends, or a chunk with `marker` arrives.
    const readUntil = async (r: ReadableStreamDefaultReader<Uint8Array>, marker: string) => {
      let text = '';
      for (;;) {
        const { done, value } = await r.read();
        if (done) return { text, done };
        text += decoder.decode(value);
        if (text.includes(marker)) return { text, done: false };
      }
    };
    await readUntil(pageReader, ': connected');
    await readUntil(bearerReader, ': connected');

    const out = await fetch(`${gw.url}/admin/logout`, {
      method: 'POST',
      headers: { cookie, origin: gw.url, ...from(ip) },
      redirect: 'manual',
    });
    expect(out.status).toBe(303);
    await client.callTool({ name: 'feat__echo', arguments: { text: 'written-after-logout' } });

    const afterLogout = await readUntil(pageReader, 'written-after-logout');
    expect(afterLogout.text).not.toContain('written-after-logout');
    expect(afterLogout.done).toBe(true);
    // A Bearer token's stream goes on (the token is still configured).
    expect((await readUntil(bearerReader, 'written-after-logout')).text).toContain('written-after-logout');
    await bearerReader.cancel();
  });
});

describe('query times', () => {
  it('a time beyond the range of dates is a problem shown, not a failed page or a 500', async () => {
    const ip = '203.0.113.9';
    const cookie = cookieOf(await login(ADMIN, ip));
    for (const q of ['since=100000000w', 'until=99999999999999999999']) {
      const page = await fetch(`${gw.url}/admin/?${q}`, { headers: { cookie, ...from(ip) } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('is not between 1970 and 9999');
      const res = await api(`/admin/audit?${q}`, ADMIN, ip);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { problems: string[] }).problems[0]).toMatch(/^(since|until): /);
    }
  });
});

describe('/metrics labels', () => {
  it('method names an agent makes up do not become series of their own', async () => {
    const sid = await openRawSession(`${gw.url}/mcp`, TEST_KEY);
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${gw.url}/mcp`, {
        method: 'POST',
        headers: { ...rawHeaders(TEST_KEY), 'mcp-session-id': sid },
        body: JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: `made/up-${i}-${'x'.repeat(200)}`, params: {} }),
      });
      expect(res.status).toBeLessThan(500);
      await res.text();
    }
    const res = await api('/metrics', METRICS, '203.0.113.10');
    expect(res.status).toBe(200);
    const text = await res.text();
    // Before, each name (up to 256 characters) was a series for the life of the process, on every scrape.
    expect(text).not.toContain('made/up-');
    expect(text).toMatch(/^tollgate_mcp_requests_total\{[^}]*method="other"[^}]*\} 40$/m);
  });
});
