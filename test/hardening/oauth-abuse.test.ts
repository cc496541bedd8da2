// A hostile client against Tollgate's own authorization server (auth.oauth), over plain HTTP: what
// the bounds on logins and pending authorizations hold under concurrency and floods. One in-process
// gateway with a memory store and two local users; no browser.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { parseConfigText } from '../../src/config/load.js';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { Redis } from 'ioredis';
import { REDIS_HOST, REDIS_PORT, ensureRedis, dropPrefix } from '../helpers/redis.js';
import { tempDir } from '../helpers/tmp.js';
import {
  Jar,
  authorizeUrl,
  cheapPasswordHash,
  codeFor,
  get,
  hidden,
  pkce,
  postForm,
  register,
  redeemCode,
  tokenRequest,
  initializeWith,
} from '../helpers/oauth.js';

/** A user's password in the config: as a cheap hash (scrypt N=1024), since this file starts and reloads many gateways. */
const pw = (password: string) => `password_hash: "${cheapPasswordHash(password)}"`;
const ALICE = { name: 'alice', password: 'alice-password-1' };
const BOB = { name: 'bob', password: 'bob-password-2' };
const CALLBACK = 'http://127.0.0.1:9/callback';
const ADMIN = 'admin-token-for-oauth-abuse';

let gw: TestGateway;
let base: string;

/** A gateway config with an authorization server (no upstream process: an llm block is enough). */
const oauthConfig = (oauth: string) => `
admin: { tokens: [${ADMIN}] }
llm:
  upstreams:
    openai: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: not-used-here, models: [gpt-test] }
auth:
  api_keys: [{ agent: keyed, key: api-key-for-oauth-abuse-0123 }]
  oauth:
    enabled: true
${oauth}
`;

/** A gateway with alice and bob as local users. */
const oauthGateway = (extra: string) =>
  startGateway(
    oauthConfig(
      `    users:\n      - { name: alice, ${pw(ALICE.password)} }\n      - { name: bob, ${pw(BOB.password)} }\n${extra}`,
    ),
  );

beforeAll(async () => {
  gw = await oauthGateway('    login_attempts: { max: 3, max_per_address: 6, window: 1h }');
  base = gw.url;
});
afterAll(async () => {
  await gw?.close();
});

async function newClient(at = base): Promise<string> {
  const r = await register(at, {
    client_name: 'abuse',
    redirect_uris: [CALLBACK],
    token_endpoint_auth_method: 'none',
  });
  expect(r.status).toBe(201);
  return r.body.client_id as string;
}

/** A fresh login page: its cookie jar and form tokens. */
async function loginForm(clientId: string, at = base) {
  const jar = new Jar();
  const res = await get(authorizeUrl(at, { clientId, redirectUri: CALLBACK, challenge: pkce().challenge }), jar);
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

describe('pending logins', () => {
  it('a flood of authorization requests is bounded per address and overall; a finished login gives its place back', async () => {
    const perAddress = await oauthGateway('    pending_logins: { max: 100, max_per_address: 3 }');
    const total = await oauthGateway('    pending_logins: { max: 2, max_per_address: 100 }');
    try {
      for (const [g, bound] of [
        [perAddress, 3],
        [total, 2],
      ] as const) {
        const clientId = await newClient(g.url);
        const open = [];
        for (let i = 0; i < bound; i++) open.push(await loginForm(clientId, g.url));
        const url = authorizeUrl(g.url, { clientId, redirectUri: CALLBACK, challenge: pkce().challenge });
        const refused = await get(url, new Jar());
        expect(refused.status).toBe(302); // client and redirect URI are known good: the error goes back to it
        expect(new URL(refused.headers.get('location') ?? '').searchParams.get('error')).toBe(
          'temporarily_unavailable',
        );
        // The user denies one of the pending logins: its place is free again.
        const f = open[0];
        if (!f) throw new Error('no login form');
        const login = await postForm(`${g.url}/authorize/login`, f.jar, {
          txn: f.txn,
          csrf: f.csrf,
          ...loginOf(ALICE),
        });
        const consent = await login.text();
        const deny = await postForm(`${g.url}/authorize/consent`, f.jar, {
          txn: hidden(consent, 'txn'),
          csrf: hidden(consent, 'csrf'),
          decision: 'deny',
        });
        expect(deny.status).toBe(303);
        expect((await get(url, new Jar())).status).toBe(200);
      }
    } finally {
      await perAddress.close();
      await total.close();
    }
  });
});

describe('users removed or changed in the config', () => {
  it("a removed local user's grants end at the next refresh; a changed user's groups follow the config", async () => {
    const file = join(tempDir('tollgate-oauth-users-'), 'oauth.json');
    const store = `    store: file\n    file: ${file}\n`;
    const users = (carolGroups: string) =>
      `${store}    users:\n      - { name: carol, ${pw('carol-password-3')}, groups: [${carolGroups}] }\n      - { name: dave, ${pw('dave-password-4')} }\n`;
    const first = await startGateway(oauthConfig(users('eng')));
    const tokens: Record<string, { clientId: string; refresh: string }> = {};
    try {
      for (const name of ['carol', 'dave']) {
        const clientId = await newClient(first.url);
        const { verifier, challenge } = pkce();
        const code = await codeFor(
          first.url,
          { clientId, redirectUri: CALLBACK, challenge },
          { name, password: `${name}-password-${name === 'carol' ? 3 : 4}` },
        );
        const t = await redeemCode(first.url, { code, verifier, clientId, redirectUri: CALLBACK });
        expect(t.status).toBe(200);
        tokens[name] = { clientId, refresh: t.body.refresh_token as string };
      }
    } finally {
      await first.close();
    }
    // Restarted with dave removed and carol no longer in eng.
    const second = await startGateway(
      oauthConfig(`${store}    users:\n      - { name: carol, ${pw('carol-password-3')}, groups: [ops] }\n`),
    );
    try {
      const refresh = (name: string) =>
        tokenRequest(second.url, {
          grant_type: 'refresh_token',
          refresh_token: tokens[name]?.refresh ?? '',
          client_id: tokens[name]?.clientId ?? '',
        });
      expect(await refresh('dave')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      const carol = await refresh('carol');
      expect(carol.status).toBe(200);
      const claims = decodeJwt(carol.body.access_token as string);
      expect(claims.groups).toEqual(['ops']);
    } finally {
      await second.close();
    }
  });
});

describe('reloading the config (SIGHUP)', () => {
  it('applies changed local users at once, and reports other auth.oauth changes as needing a restart', async () => {
    const users = (erin: string) =>
      `    users:\n      - { name: erin, ${pw(erin)} }\n      - { name: frank, ${pw('frank-password-6')} }\n`;
    const g = await startGateway(oauthConfig(users('erin-password-5')));
    const reparse = (oauth: string) =>
      parseConfigText(oauthConfig(oauth), `${process.cwd()}/test-config.yaml`, {
        TOLLGATE_AUDIT_FILE: g.auditFile,
        TOLLGATE_PINS_FILE: g.pinsFile,
      }).config;
    const loginStatus = async (username: string, password: string) => {
      const clientId = await newClient(g.url);
      const f = await loginForm(clientId, g.url);
      return (await postForm(`${g.url}/authorize/login`, f.jar, { txn: f.txn, csrf: f.csrf, username, password }))
        .status;
    };
    try {
      expect(await loginStatus('frank', 'frank-password-6')).toBe(200);
      // frank's browser keeps a login session: after the reload it must not get past the login page.
      const clientId = await newClient(g.url);
      const frank = await loginForm(clientId, g.url);
      await postForm(`${g.url}/authorize/login`, frank.jar, {
        txn: frank.txn,
        csrf: frank.csrf,
        username: 'frank',
        password: 'frank-password-6',
      });
      const again = authorizeUrl(g.url, { clientId, redirectUri: CALLBACK, challenge: pkce().challenge });
      expect(await (await get(again, frank.jar)).text()).toContain('action="/authorize/consent"');
      // frank removed, erin's password changed.
      const r = g.gw.applyConfig(reparse(`    users:\n      - { name: erin, ${pw('erin-new-password-7')} }\n`));
      expect(r.applied).toContain('auth');
      expect(r.restartNeeded).not.toContain('auth.oauth');
      expect(await loginStatus('frank', 'frank-password-6')).toBe(401);
      expect(await (await get(again, frank.jar)).text()).toContain('action="/authorize/login"');
      expect(await loginStatus('erin', 'erin-password-5')).toBe(401);
      expect(await loginStatus('erin', 'erin-new-password-7')).toBe(200);
      // What cannot change in place is said so.
      const ttl = g.gw.applyConfig(reparse(`${users('erin-password-5')}    access_token_ttl: 1m\n`));
      expect(ttl.restartNeeded).toContain('auth.oauth');
    } finally {
      await g.close();
    }
  });
});

/** The status and WWW-Authenticate of an MCP initialize sent with `token` to `at`. */
const mcpWith = (at: string, token: string) => initializeWith(`${at}/mcp`, token);

/** A fresh client, a login as `user` at `at`, and the tokens with the grant's id (from the admin API). */
async function loginAt(at: string, user: { name: string; password: string }) {
  const clientId = await newClient(at);
  const { verifier, challenge } = pkce();
  const code = await codeFor(at, { clientId, redirectUri: CALLBACK, challenge }, user);
  const t = await redeemCode(at, { code, verifier, clientId, redirectUri: CALLBACK });
  expect(t.status).toBe(200);
  const { grants } = (await (
    await fetch(`${at}/admin/api/oauth/grants`, { headers: { authorization: `Bearer ${ADMIN}` } })
  ).json()) as { grants: { gid: string; clientId: string }[] };
  const gid = grants.find((g) => g.clientId === clientId)?.gid ?? '';
  return { clientId, gid, access: t.body.access_token as string, refresh: t.body.refresh_token as string };
}

const revokeGrant = async (at: string, gid: string) =>
  (
    await fetch(`${at}/admin/api/oauth/grants/${gid}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
    })
  ).status;

const refused = { status: 401, challenge: expect.stringContaining('error="invalid_token"') };

type LocalUser = { name: string; password: string };

/** The `auth.oauth.users` lines of a config for these local users. */
const users = (list: LocalUser[]) =>
  `    users:\n${list.map((u) => `      - { name: ${u.name}, ${pw(u.password)} }\n`).join('')}`;

/** A config text parsed as the gateway `g` would re-read it on SIGHUP. */
const reparsed = (g: { auditFile: string; pinsFile: string }, yaml: string) =>
  parseConfigText(yaml, `${process.cwd()}/test-config.yaml`, {
    TOLLGATE_AUDIT_FILE: g.auditFile,
    TOLLGATE_PINS_FILE: g.pinsFile,
  }).config;

describe('access tokens end with their user or their grant, not at their exp', () => {
  const GINA_ = { name: 'gina', password: 'gina-password-8' };

  it('a local user removed by a reload and a grant revoked by an operator: their access tokens are refused at once, others keep working', async () => {
    const GINA = { name: 'gina', password: 'gina-password-8' };
    const HANK = { name: 'hank', password: 'hank-password-9' };
    const g = await startGateway(oauthConfig(users([GINA, HANK])));
    try {
      const gina1 = await loginAt(g.url, GINA);
      const gina2 = await loginAt(g.url, GINA);
      const hank = await loginAt(g.url, HANK);
      for (const t of [gina1, gina2, hank]) expect((await mcpWith(g.url, t.access)).status).toBe(200);
      // hank removed from the config (what SIGHUP applies): his access token stops now, not at its exp.
      const next = parseConfigText(oauthConfig(users([GINA])), `${process.cwd()}/test-config.yaml`, {
        TOLLGATE_AUDIT_FILE: g.auditFile,
        TOLLGATE_PINS_FILE: g.pinsFile,
      }).config;
      expect(g.gw.applyConfig(next).applied).toContain('auth');
      expect(await mcpWith(g.url, hank.access)).toEqual(refused);
      expect((await mcpWith(g.url, gina1.access)).status).toBe(200);
      // One of gina's grants revoked on the admin API: that grant's access token stops, her other one works.
      expect(await revokeGrant(g.url, gina1.gid)).toBe(200);
      expect(await mcpWith(g.url, gina1.access)).toEqual(refused);
      expect((await mcpWith(g.url, gina2.access)).status).toBe(200);
    } finally {
      await g.close();
    }
  });

  it('a local user removed and later added again does not get the old tokens back (the name may be a new person)', async () => {
    const IVY = { name: 'ivy', password: 'ivy-password-10' };
    const g = await startGateway(oauthConfig(users([GINA_, IVY])));
    const reparse = (list: LocalUser[]) => reparsed(g, oauthConfig(users(list)));
    try {
      const ivy = await loginAt(g.url, IVY);
      const gina = await loginAt(g.url, GINA_);
      expect(g.gw.applyConfig(reparse([GINA_])).applied).toContain('auth');
      await g.gw.oauth?.usersApplied();
      // The name given to someone else: the old ivy's access and refresh tokens stay dead.
      expect(g.gw.applyConfig(reparse([GINA_, { name: 'ivy', password: 'another-ivy-11' }])).applied).toContain('auth');
      await g.gw.oauth?.usersApplied();
      expect(await mcpWith(g.url, ivy.access)).toEqual(refused);
      expect(
        await tokenRequest(g.url, { grant_type: 'refresh_token', refresh_token: ivy.refresh, client_id: ivy.clientId }),
      ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect((await mcpWith(g.url, gina.access)).status).toBe(200);
    } finally {
      await g.close();
    }
  });

  it('a user added by one reload and removed by the next (the file back as it was at start) loses access', async () => {
    const JO = { name: 'jo', password: 'jo-password-12' };
    const g = await startGateway(oauthConfig(users([GINA_])));
    const reparse = (list: LocalUser[]) => reparsed(g, oauthConfig(users(list)));
    try {
      expect(g.gw.applyConfig(reparse([GINA_, JO])).applied).toContain('auth');
      const jo = await loginAt(g.url, JO);
      expect((await mcpWith(g.url, jo.access)).status).toBe(200);
      // Compared with the config last applied, not the one the gateway started with.
      expect(g.gw.applyConfig(reparse([GINA_])).applied).toContain('auth');
      expect(await mcpWith(g.url, jo.access)).toEqual(refused);
    } finally {
      await g.close();
    }
  });

  it('with the file store, a local user removed while the gateway was stopped and later added again does not get the old tokens or login session back', async () => {
    const IVY = { name: 'ivy', password: 'ivy-password-10' };
    const file = join(tempDir('tollgate-oauth-purge-'), 'oauth.json');
    // One issuer and resource across restarts (the port changes), the state in the file.
    const start = (list: LocalUser[]) =>
      startGateway(
        oauthConfig(
          `${users(list)}    store: file\n    file: ${file}\n    issuer: http://tollgate.test\n  resource: http://tollgate.test/mcp`,
        ),
      );
    let g = await start([GINA_, IVY]);
    const jar = new Jar();
    let ivy: Awaited<ReturnType<typeof loginAt>>;
    let gina: Awaited<ReturnType<typeof loginAt>>;
    try {
      ivy = await loginAt(g.url, IVY);
      gina = await loginAt(g.url, GINA_);
      // ivy's browser keeps a login session too.
      await codeFor(g.url, { clientId: ivy.clientId, redirectUri: CALLBACK, challenge: pkce().challenge }, IVY, jar);
    } finally {
      await g.close();
    }
    // A company (OIDC) login of the same name is not a local user: never ended for the users list.
    const company = { sub: 'ivy', groups: [], idp: 'https://idp.example', gid: 'company-ivy', clientId: ivy.clientId };
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...saved, 'grant:company-ivy': { value: company } }));
    // Restarted without ivy, then with the name given to someone else.
    g = await start([GINA_]);
    await g.close();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty(['grant:company-ivy']);
    g = await start([GINA_, { name: 'ivy', password: 'another-ivy-11' }]);
    try {
      expect(await mcpWith(g.url, ivy.access)).toEqual(refused);
      expect(
        await tokenRequest(g.url, { grant_type: 'refresh_token', refresh_token: ivy.refresh, client_id: ivy.clientId }),
      ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      // The old browser is asked to log in, not handed a code as the new ivy.
      const again = await get(
        authorizeUrl(g.url, { clientId: ivy.clientId, redirectUri: CALLBACK, challenge: pkce().challenge }),
        jar,
      );
      expect(again.status).toBe(200);
      expect(await again.text()).toContain('action="/authorize/login"');
      // gina, listed all along, keeps her tokens.
      expect((await mcpWith(g.url, gina.access)).status).toBe(200);
    } finally {
      await g.close();
    }
  });

  /** A gateway on the shared redis store under `prefix`, with these local users (one issuer across restarts). */
  const onRedis = (prefix: string, list: LocalUser[]) =>
    startGateway(
      oauthConfig(
        `${users(list)}    store: redis\n    issuer: http://tollgate.test\n  resource: http://tollgate.test/mcp\nlimits: { redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}" } }`,
      ),
    );

  it('with the redis store, a local user removed by a restart alone (no SIGHUP) and later added again does not get the old tokens or login session back', async () => {
    expect(await ensureRedis()).toBe(true);
    const IVY = { name: 'ivy', password: 'ivy-password-10' };
    const prefix = `tollgate-test:oauth-restart:${randomUUID().slice(0, 8)}:`;
    const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    const jar = new Jar();
    let g = await onRedis(prefix, [GINA_, IVY]);
    try {
      const ivy = await loginAt(g.url, IVY);
      const gina = await loginAt(g.url, GINA_);
      // ivy's browser keeps a login session too.
      await codeFor(g.url, { clientId: ivy.clientId, redirectUri: CALLBACK, challenge: pkce().challenge }, IVY, jar);
      // Restarted without ivy, then with the name given to someone else.
      await g.close();
      g = await onRedis(prefix, [GINA_]);
      await g.close();
      g = await onRedis(prefix, [GINA_, { name: 'ivy', password: 'another-ivy-11' }]);
      expect(await mcpWith(g.url, ivy.access)).toEqual(refused);
      expect(
        await tokenRequest(g.url, { grant_type: 'refresh_token', refresh_token: ivy.refresh, client_id: ivy.clientId }),
      ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      // The old browser is asked to log in, not handed a code as the new ivy.
      const again = await get(
        authorizeUrl(g.url, { clientId: ivy.clientId, redirectUri: CALLBACK, challenge: pkce().challenge }),
        jar,
      );
      expect(again.status).toBe(200);
      expect(await again.text()).toContain('action="/authorize/login"');
      // gina, listed all along, keeps her tokens.
      expect((await mcpWith(g.url, gina.access)).status).toBe(200);
    } finally {
      await g.close();
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('with the redis store, an instance restarted without a user ends their logins for every instance, those another instance made meanwhile too', async () => {
    expect(await ensureRedis()).toBe(true);
    const IVY = { name: 'ivy', password: 'ivy-password-10' };
    const prefix = `tollgate-test:oauth-fleet:${randomUUID().slice(0, 8)}:`;
    const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    let a = await onRedis(prefix, [GINA_, IVY]);
    let b = await onRedis(prefix, [GINA_, IVY]);
    try {
      const gina = await loginAt(a.url, GINA_);
      const ivy = await loginAt(a.url, IVY);
      // A rolling change removing ivy: a restarted first. The instance's list is the truth for the
      // store: ivy's grant ends on b too, which still lists her.
      await a.close();
      a = await onRedis(prefix, [GINA_]);
      expect(await mcpWith(b.url, ivy.access)).toEqual(refused);
      expect(await mcpWith(a.url, ivy.access)).toEqual(refused);
      // Until b is restarted too, ivy can log in there again; that login ends at b's restart.
      const meanwhile = await loginAt(b.url, IVY);
      expect((await mcpWith(b.url, meanwhile.access)).status).toBe(200);
      await b.close();
      b = await onRedis(prefix, [GINA_]);
      // The name listed again later (perhaps for someone else) revives nothing.
      await a.close();
      a = await onRedis(prefix, [GINA_, { name: 'ivy', password: 'another-ivy-11' }]);
      expect(await mcpWith(a.url, meanwhile.access)).toEqual(refused);
      expect(
        await tokenRequest(a.url, {
          grant_type: 'refresh_token',
          refresh_token: meanwhile.refresh,
          client_id: meanwhile.clientId,
        }),
      ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      // gina, listed everywhere all along, keeps her tokens on both.
      for (const at of [a.url, b.url]) expect((await mcpWith(at, gina.access)).status).toBe(200);
    } finally {
      await a.close();
      await b.close();
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('with the redis store, a grant revoked on one instance is refused on another at once', async () => {
    expect(await ensureRedis()).toBe(true);
    const prefix = `tollgate-test:oauth-revoke:${randomUUID().slice(0, 8)}:`;
    // Two instances of one gateway: shared store, issuer and resource, as behind a load balancer.
    const instance = () =>
      oauthGateway(
        `    store: redis\n    issuer: http://tollgate.test\n  resource: http://tollgate.test/mcp\nlimits: { redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}" } }`,
      );
    const a = await instance();
    const b = await instance();
    const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    try {
      const alice = await loginAt(a.url, ALICE);
      const bob = await loginAt(a.url, BOB);
      for (const t of [alice, bob]) expect((await mcpWith(b.url, t.access)).status).toBe(200);
      expect(await revokeGrant(a.url, alice.gid)).toBe(200);
      expect(await mcpWith(b.url, alice.access)).toEqual(refused);
      expect((await mcpWith(b.url, bob.access)).status).toBe(200);
    } finally {
      await a.close();
      await b.close();
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });
});

describe('revocation by an operator', () => {
  it('a grant revoked on the admin page is not silently given back: the user is asked again', async () => {
    const clientId = await newClient();
    const jar = new Jar();
    const ask = () => authorizeUrl(base, { clientId, redirectUri: CALLBACK, challenge: pkce().challenge });
    const { verifier, challenge } = pkce();
    const code = await codeFor(base, { clientId, redirectUri: CALLBACK, challenge }, ALICE, jar);
    const t = await redeemCode(base, { code, verifier, clientId, redirectUri: CALLBACK });
    expect(t.status).toBe(200);
    // With the browser's login session and the remembered consent, a new code comes without a click.
    expect((await get(ask(), jar)).status).toBe(303);
    const auth = { authorization: `Bearer ${ADMIN}` };
    const { grants } = (await (await fetch(`${base}/admin/api/oauth/grants`, { headers: auth })).json()) as {
      grants: { gid: string; clientId: string }[];
    };
    for (const g of grants.filter((x) => x.clientId === clientId))
      expect(
        (await fetch(`${base}/admin/api/oauth/grants/${g.gid}/revoke`, { method: 'POST', headers: auth })).status,
      ).toBe(200);
    const after = await get(ask(), jar);
    expect(after.status).toBe(200);
    expect(await after.text()).toContain('action="/authorize/consent"');
  });
});

describe('one authorization request, one answer', () => {
  it('a consent form sent twice at once gives one code; the other posts are refused (memory and Redis stores)', async () => {
    expect(await ensureRedis()).toBe(true);
    const prefix = `tollgate-test:oauth-abuse:${randomUUID().slice(0, 8)}:`;
    const shared = await oauthGateway(
      `    store: redis\nlimits: { redis: { url: "redis://${REDIS_HOST}:${REDIS_PORT}", prefix: "${prefix}" } }`,
    );
    const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    try {
      for (const at of [base, shared.url]) {
        const clientId = await newClient(at);
        const f = await loginForm(clientId, at);
        const consent = await (
          await postForm(`${at}/authorize/login`, f.jar, { txn: f.txn, csrf: f.csrf, ...loginOf(ALICE) })
        ).text();
        const form = { txn: hidden(consent, 'txn'), csrf: hidden(consent, 'csrf'), decision: 'allow' };
        const answers = await Promise.all(
          Array.from({ length: 4 }, () => postForm(`${at}/authorize/consent`, f.jar, form)),
        );
        const codes = answers.map((r) => new URL(r.headers.get('location') ?? 'x:/').searchParams.get('code'));
        expect(codes.filter(Boolean), at).toHaveLength(1);
        expect(answers.map((r) => r.status).sort()).toEqual([303, 403, 403, 403]);
      }
    } finally {
      await shared.close();
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });
});

describe('request bodies', () => {
  it('login and consent posts are capped (16 KiB): a huge form is refused before it is read', async () => {
    const clientId = await newClient();
    const f = await loginForm(clientId);
    for (const path of ['/authorize/login', '/authorize/consent']) {
      const r = await postForm(`${base}${path}`, f.jar, {
        txn: f.txn,
        csrf: f.csrf,
        username: 'alice',
        password: 'x'.repeat(2 * 1024 * 1024),
      });
      expect(r.status, path).toBe(413);
      expect(r.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('repeated scopes are kept once', async () => {
    const clientId = await newClient();
    const jar = new Jar();
    const page = await get(
      authorizeUrl(base, { clientId, redirectUri: CALLBACK, challenge: pkce().challenge, scope: 'mcp mcp mcp' }),
      jar,
    );
    expect(page.status).toBe(200);
    const html = await page.text();
    const consent = await (
      await postForm(`${base}/authorize/login`, jar, {
        txn: hidden(html, 'txn'),
        csrf: hidden(html, 'csrf'),
        ...loginOf(ALICE),
      })
    ).text();
    expect(consent).toContain('id="scopes">mcp</dd>');
  });
});

describe('refresh tokens (checked sound; kept as regression tests)', () => {
  async function grant(resource = `${base}/mcp`) {
    const clientId = await newClient();
    const { verifier, challenge } = pkce();
    const code = await codeFor(base, { clientId, redirectUri: CALLBACK, challenge, resource }, ALICE);
    const t = await redeemCode(base, { code, verifier, clientId, redirectUri: CALLBACK });
    expect(t.status).toBe(200);
    return { clientId, refresh: t.body.refresh_token as string };
  }

  it('another client presenting a refresh token gets nothing and ends the grant', async () => {
    const g = await grant();
    const thief = await newClient();
    const stolen = await tokenRequest(base, {
      grant_type: 'refresh_token',
      refresh_token: g.refresh,
      client_id: thief,
    });
    expect(stolen).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const owner = await tokenRequest(base, {
      grant_type: 'refresh_token',
      refresh_token: g.refresh,
      client_id: g.clientId,
    });
    expect(owner.body.error).toBe('invalid_grant');
  });

  it('a refresh cannot widen the scope or move the token to another resource', async () => {
    const g = await grant();
    const wider = await tokenRequest(base, {
      grant_type: 'refresh_token',
      refresh_token: g.refresh,
      client_id: g.clientId,
      scope: 'mcp admin',
    });
    expect(wider.status).toBe(200);
    expect(wider.body.scope).toBe('mcp');
    expect(decodeJwt(wider.body.access_token as string).scope).toBe('mcp');
    const moved = await tokenRequest(base, {
      grant_type: 'refresh_token',
      refresh_token: wider.body.refresh_token as string,
      client_id: g.clientId,
      resource: `${base}/v1`,
    });
    expect(moved.body.error).toBe('invalid_target');
  });
});

describe('company login (OIDC) starts', () => {
  it('sending the browser to the IdP again and again for one login keeps one upstream state', async () => {
    // A stand-in IdP: discovery only (the flow is not followed past the redirect).
    const idp = createServer((_req, res) => {
      const self = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer: self,
          authorization_endpoint: `${self}/auth`,
          token_endpoint: `${self}/token`,
          jwks_uri: `${self}/jwks`,
        }),
      );
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    const g = await oauthGateway(
      `    oidc: { issuer: "${issuer}", client_id: tollgate, client_secret: not-used-0123456789 }`,
    );
    try {
      const clientId = await newClient(g.url);
      const f = await loginForm(clientId, g.url);
      const states = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const r = await get(`${g.url}/authorize/oidc?txn=${encodeURIComponent(f.txn)}`, f.jar);
        expect(r.status).toBe(302);
        states.add(new URL(r.headers.get('location') ?? '').searchParams.get('state') ?? '');
      }
      expect(states.size).toBe(1);
      expect(await g.gw.oauth?.store.list('oidc:')).toHaveLength(1);
    } finally {
      await g.close();
      idp.closeAllConnections();
      await new Promise((r) => idp.close(r));
    }
  });
});

describe('pages, cookies and token answers (checked sound; kept as regression tests)', () => {
  it('pages refuse framing and caching; cookies are HttpOnly, SameSite=Lax, on /authorize, Secure under https', async () => {
    const clientId = await newClient();
    const url = authorizeUrl(base, { clientId, redirectUri: CALLBACK, challenge: pkce().challenge });
    const res = await get(url, new Jar());
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('tg_oauth_txn=')) ?? '';
    for (const attr of ['HttpOnly', 'SameSite=Lax', 'Path=/authorize']) expect(cookie).toContain(attr);
    expect(cookie).not.toContain('Secure');
    const tls = await oauthGateway('    issuer: https://gateway.example');
    try {
      const id = await newClient(tls.url);
      const r = await get(
        authorizeUrl(tls.url, { clientId: id, redirectUri: CALLBACK, challenge: pkce().challenge }),
        new Jar(),
      );
      expect(r.headers.getSetCookie().find((c) => c.startsWith('tg_oauth_txn='))).toContain('Secure');
    } finally {
      await tls.close();
    }
    const token = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'tgr_nothing', client_id: clientId }),
    });
    expect(token.headers.get('cache-control')).toBe('no-store');
  });
});

describe('behind a reverse proxy (server.trusted_proxies)', () => {
  /** A gateway allowing 2 registrations and 2 pending logins per address, with these trusted proxies. */
  const proxied = (trusted: string | undefined) =>
    startGateway(
      `${trusted === undefined ? '' : `server:\n  trusted_proxies: ${trusted}\n`}${oauthConfig(
        `    users:\n      - { name: alice, ${pw(ALICE.password)} }\n    registrations_per_address: 2\n    pending_logins: { max: 100, max_per_address: 2 }\n`,
      )}`,
    );
  /** POST /register as the client the X-Forwarded-For header names (every request comes from 127.0.0.1). */
  const registerAs = async (at: string, forwardedFor: string) =>
    (
      await fetch(`${at}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
        body: JSON.stringify({ client_name: 'proxied', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' }),
      })
    ).status;
  /** GET /authorize as that client: 200 (a login page, a pending login taken) or the error it is sent back with. */
  const authorizeAs = async (at: string, clientId: string, forwardedFor: string) => {
    const url = authorizeUrl(at, { clientId, redirectUri: CALLBACK, challenge: pkce().challenge });
    const res = await fetch(url, { redirect: 'manual', headers: { 'x-forwarded-for': forwardedFor } });
    return res.status === 200 ? 200 : new URL(res.headers.get('location') ?? '').searchParams.get('error');
  };

  it('clients behind a trusted proxy get allowances of their own; a spoofed left-most entry changes nothing', async () => {
    const g = await proxied('[127.0.0.1]');
    try {
      expect(await registerAs(g.url, '198.51.100.1')).toBe(201);
      expect(await registerAs(g.url, '198.51.100.1')).toBe(201);
      expect(await registerAs(g.url, '198.51.100.1')).toBe(429);
      // A second client behind the same proxy is not locked out by the first.
      expect(await registerAs(g.url, '198.51.100.2')).toBe(201);
      // The first client naming someone else in front of its real address is still itself.
      expect(await registerAs(g.url, '198.51.100.77, 198.51.100.1')).toBe(429);
      // An IPv6 client counts as its /64, behind the proxy as without it.
      expect(await registerAs(g.url, '2001:db8:1:2::1')).toBe(201);
      expect(await registerAs(g.url, '2001:db8:1:2::2')).toBe(201);
      expect(await registerAs(g.url, '[2001:db8:1:2::3]:4711')).toBe(429);

      const clientId = await newClient(g.url);
      expect(await authorizeAs(g.url, clientId, '198.51.100.1')).toBe(200);
      expect(await authorizeAs(g.url, clientId, '198.51.100.1')).toBe(200);
      expect(await authorizeAs(g.url, clientId, '198.51.100.1')).toBe('temporarily_unavailable');
      expect(await authorizeAs(g.url, clientId, '198.51.100.2')).toBe(200);
    } finally {
      await g.close();
    }
  });

  it('X-Forwarded-For is ignored without trusted proxies and from a peer that is not one', async () => {
    for (const trusted of [undefined, '[10.0.0.0/8, "2001:db8::/32"]']) {
      const g = await proxied(trusted);
      try {
        expect(await registerAs(g.url, '198.51.100.1')).toBe(201);
        expect(await registerAs(g.url, '198.51.100.2')).toBe(201);
        // Everyone is 127.0.0.1, whatever the header says: the shared allowance is spent.
        expect(await registerAs(g.url, '198.51.100.3'), String(trusted)).toBe(429);
      } finally {
        await g.close();
      }
    }
  });
});
