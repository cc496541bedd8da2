// GET /authorize and the login and consent forms it leads to. The client and its redirect URI are
// checked first: until both are known good, errors are shown on a page here, never sent to a
// redirect URI (that would make Tollgate an open redirector). Every later error goes back to the
// client as `?error=…&state=…&iss=…`.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { bodyLimit } from 'hono/body-limit';
import { OAuthError, type OAuthClient } from './clients.js';
import { redirectUriMatches } from './redirect.js';
import { CHALLENGE } from './pkce.js';
import { knownResource } from './resources.js';
import { ConsentPage, ErrorPage, LoginPage } from './pages.js';
import type { OAuthServer } from './server.js';
import { consentKey, type Subject } from './grants.js';
import { sameOrigin } from '../admin/csrf.js';
import { oidcRoutes } from './oidc.js';

/** A login in progress: the checked authorization request, until the code is issued. */
interface Pending {
  clientId: string;
  redirectUri: string;
  state: string | undefined;
  codeChallenge: string;
  resource: string;
  scope: string;
  csrf: string;
  /** The client address it counts against (pending_logins), given back when it ends. */
  addr?: string;
}

interface Consent {
  scopes: string[];
  resources: string[];
}

const TXN_COOKIE = 'tg_oauth_txn';
const SESSION_COOKIE = 'tg_oauth_session';

const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src https:; frame-ancestors 'none'",
  'referrer-policy': 'same-origin', // no-referrer would make a form's Origin "null"
};

const digest = (s: string): string => createHash('sha256').update(s).digest('base64url');

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function page(
  c: Context,
  body: ReturnType<typeof ErrorPage>,
  status: 200 | 400 | 401 | 403 | 413 | 429 = 200,
  extra = {},
) {
  return c.html(body, status, { ...PAGE_HEADERS, ...extra });
}

function errorPage(c: Context, error: string, description: string, status: 400 | 401 | 403 = 400) {
  return page(c, <ErrorPage error={error} description={description} />, status);
}

const clientName = (cl: OAuthClient): string => cl.client_name ?? cl.client_id;

export function authorizeRoutes(app: Hono, as: OAuthServer): void {
  const cfg = as.config;
  // The forms are a few hundred bytes; without a cap, parseBody would buffer whatever anyone sends.
  app.use(
    '/authorize/*',
    bodyLimit({
      maxSize: 16 * 1024,
      // The rest of the body is never read: the connection cannot carry another request.
      onError: (c) =>
        page(c, <ErrorPage error="invalid_request" description="the form is too large" />, 413, {
          connection: 'close',
        }),
    }),
  );
  const cookieOpts = () => ({ httpOnly: true, sameSite: 'Lax' as const, path: '/authorize', secure: as.secure });

  const back = (p: Pick<Pending, 'redirectUri' | 'state'>, params: Record<string, string>): string => {
    const u = new URL(p.redirectUri);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (p.state !== undefined) u.searchParams.set('state', p.state);
    u.searchParams.set('iss', as.issuer());
    return u.href;
  };

  const sessionOf = async (c: Context): Promise<Subject | undefined> => {
    const id = getCookie(c, SESSION_COOKIE);
    if (!id || id.length > 100) return undefined;
    const s = await as.store.get<Subject>(`session:${digest(id)}`);
    return s && as.subjectNow(s); // a user removed from the config since is logged out
  };

  const consented = async (s: Subject, p: Pending): Promise<boolean> => {
    // The gateway's own sign-ins (admin side, connections pages): nothing is handed to a third party.
    if (as.clients.isBuiltIn(p.clientId)) return true;
    const c = await as.store.get<Consent>(consentKey(s.sub, p.clientId));
    return c?.resources.includes(p.resource) === true && p.scope.split(' ').every((x) => c.scopes.includes(x));
  };

  // Pending logins are bounded overall and per address (pending_logins): each authorization request
  // holds a place until it ends with a code or a denial (or its login_ttl window passes), so a flood of
  // GET /authorize cannot grow the store without bound.
  const PENDING_ALL = 'pending-logins';
  const pendingKey = (addr: string) => `pending-logins:ip:${addr}`;
  /** Takes the pending login once (false: a concurrent post already ended it) and gives its place back. */
  const endPending = async (txn: string, p: Pending): Promise<boolean> => {
    if ((await as.store.take(`txn:${txn}`)) === undefined) return false;
    const ttl = cfg.loginTtlMs;
    await Promise.all([
      as.store.incr(PENDING_ALL, ttl, -1),
      ...(p.addr === undefined ? [] : [as.store.incr(pendingKey(p.addr), ttl, -1)]),
    ]);
    return true;
  };

  /** Ends a pending login with a code sent to the client: one authorization request, one code. */
  const issue = async (c: Context, txn: string, p: Pending, s: Subject) => {
    if (!(await endPending(txn, p))) return forged(c);
    const code = await as.grants.issueCode({
      ...s,
      clientId: p.clientId,
      redirectUri: p.redirectUri,
      codeChallenge: p.codeChallenge,
      resource: p.resource,
      scope: p.scope,
    });
    return c.redirect(back(p, { code }), 303);
  };

  const consentPage = async (c: Context, txn: string, p: Pending, s: Subject) => {
    const cl = await as.clients.find(p.clientId);
    return page(
      c,
      <ConsentPage
        txn={txn}
        csrf={p.csrf}
        user={s.sub}
        clientId={cl.client_id}
        clientName={clientName(cl)}
        clientUri={cl.client_uri}
        logoUri={cl.logo_uri}
        redirectHost={new URL(p.redirectUri).host || p.redirectUri}
        resource={p.resource}
        scopes={p.scope.split(' ').filter(Boolean)}
      />,
    );
  };

  app.get('/authorize', async (c) => {
    const q = c.req.query();
    let client: OAuthClient;
    try {
      client = await as.clients.find(q.client_id ?? '');
    } catch (err) {
      if (err instanceof OAuthError) return errorPage(c, err.error, err.description);
      throw err;
    }
    const redirectUri = q.redirect_uri ?? (client.redirect_uris.length === 1 ? client.redirect_uris[0] : undefined);
    if (redirectUri === undefined || !redirectUriMatches(client.redirect_uris, redirectUri))
      return errorPage(c, 'invalid_request', 'redirect_uri is not one the client registered');
    const state = q.state;
    const fail = (error: string, description: string) =>
      c.redirect(back({ redirectUri, state }, { error, error_description: description }), 302);
    if (state !== undefined && state.length > 2048) return fail('invalid_request', 'state is too long');
    if (q.response_type !== 'code') return fail('unsupported_response_type', 'only response_type=code is supported');
    if (q.code_challenge_method !== 'S256' || !CHALLENGE.test(q.code_challenge ?? ''))
      return fail('invalid_request', 'PKCE is required: code_challenge with code_challenge_method=S256');
    const resource = knownResource(as.resources, q.resource ?? as.resources.mcp());
    if (!resource) return fail('invalid_target', 'resource is not served by this gateway');
    const scopes = [...new Set((q.scope ?? cfg.scopes.join(' ')).split(' ').filter(Boolean))];
    const unknown = scopes.filter((s) => !cfg.scopes.includes(s));
    if (unknown.length > 0) return fail('invalid_scope', `unknown scope ${unknown.join(' ')}`);
    const addr = as.clientAddress(c);
    const [all, mine] = await Promise.all([
      as.store.incr(PENDING_ALL, cfg.loginTtlMs),
      as.store.incr(pendingKey(addr), cfg.loginTtlMs),
    ]);
    if (all > cfg.pendingLogins.max || mine > cfg.pendingLogins.maxPerAddress) {
      await Promise.all([
        as.store.incr(PENDING_ALL, cfg.loginTtlMs, -1),
        as.store.incr(pendingKey(addr), cfg.loginTtlMs, -1),
      ]);
      as.log.warn({ addr, pendingAddress: mine, pendingAll: all }, 'oauth: too many pending logins');
      return fail('temporarily_unavailable', 'too many logins in progress; try again in a few minutes');
    }
    const pending: Pending = {
      clientId: client.client_id,
      redirectUri,
      state,
      codeChallenge: q.code_challenge ?? '',
      resource,
      scope: scopes.join(' '),
      csrf: randomBytes(24).toString('base64url'),
      addr,
    };
    const txn = randomBytes(24).toString('base64url');
    await as.store.set(`txn:${txn}`, pending, cfg.loginTtlMs);
    setCookie(c, TXN_COOKIE, txn, { ...cookieOpts(), maxAge: Math.ceil(cfg.loginTtlMs / 1000) });
    const session = await sessionOf(c);
    if (session && (await consented(session, pending))) return issue(c, txn, pending, session);
    if (session) return consentPage(c, txn, pending, session);
    return page(
      c,
      <LoginPage txn={txn} csrf={pending.csrf} clientName={clientName(client)} oidcName={cfg.oidc?.name} />,
    );
  });

  /** The pending login a form names, when the cookie and the CSRF token agree with it. */
  const pendingOf = async (c: Context, form: Record<string, unknown>) => {
    const txn = typeof form.txn === 'string' ? form.txn : '';
    const csrf = typeof form.csrf === 'string' ? form.csrf : '';
    if (!sameOrigin(c, { allowMissing: true })) return undefined;
    const cookie = getCookie(c, TXN_COOKIE) ?? '';
    if (!txn || txn.length > 100 || !same(cookie, txn)) return undefined;
    const p = await as.store.get<Pending>(`txn:${txn}`);
    if (!p || !same(p.csrf, csrf)) return undefined;
    return { txn, p };
  };
  const forged = (c: Context) =>
    errorPage(c, 'invalid_request', 'this form is stale or was not sent from the login page; start again', 403);

  app.post('/authorize/login', async (c) => {
    const form = await c.req.parseBody();
    const found = await pendingOf(c, form);
    if (!found) return forged(c);
    const { txn, p } = found;
    const username = typeof form.username === 'string' ? form.username.slice(0, 200) : '';
    const password = typeof form.password === 'string' ? form.password : '';
    const cl = await as.clients.find(p.clientId);
    const login = (error: string, status: 401 | 429, extra = {}) =>
      page(
        c,
        <LoginPage
          txn={txn}
          csrf={p.csrf}
          clientName={clientName(cl)}
          error={error}
          username={username}
          oidcName={cfg.oidc?.name}
        />,
        status,
        extra,
      );
    const ip = as.clientAddress(c);
    const { max, maxPerAddress, windowMs } = cfg.loginAttempts;
    const [userKey, ipKey] = [`login-fail:u:${digest(username)}`, `login-fail:ip:${ip}`];
    // Each attempt takes its place in both counters before the (slow) password check: counted after
    // it, guesses sent at once would all pass the bound. A refused attempt gives its places back, a
    // successful one its place in the address's counter (the bounds count failures).
    const [byUser, byAddress] = await Promise.all([as.store.incr(userKey, windowMs), as.store.incr(ipKey, windowMs)]);
    if (byUser > max || byAddress > maxPerAddress) {
      await Promise.all([as.store.incr(userKey, windowMs, -1), as.store.incr(ipKey, windowMs, -1)]);
      return login('Too many failed logins. Try again later.', 429, {
        'retry-after': String(Math.ceil(windowMs / 1000)),
      });
    }
    const user = await as.users.verify(username, password);
    if (!user) {
      as.log.warn({ username, ip }, 'oauth login failed');
      return login('Wrong user name or password.', 401);
    }
    await Promise.all([as.store.del(userKey), as.store.incr(ipKey, windowMs, -1)]);
    return finishLogin(c, txn, p, { sub: user.name, groups: user.groups, idp: 'local' });
  });

  /** A user is known (local password or the company IdP): a login session, then consent or the code. */
  const finishLogin = async (c: Context, txn: string, p: Pending, subject: Subject) => {
    const sid = randomBytes(32).toString('base64url');
    await as.store.set(`session:${digest(sid)}`, subject, cfg.sessionTtlMs);
    setCookie(c, SESSION_COOKIE, sid, { ...cookieOpts(), maxAge: Math.ceil(cfg.sessionTtlMs / 1000) });
    if (await consented(subject, p)) return issue(c, txn, p, subject);
    return consentPage(c, txn, p, subject);
  };

  oidcRoutes(app, as, {
    txnCookie: TXN_COOKIE,
    pending: (txn) => as.store.get<Pending>(`txn:${txn}`),
    finish: async (c, txn, subject) => {
      const p = await as.store.get<Pending>(`txn:${txn}`);
      if (!p) return forged(c);
      return finishLogin(c, txn, p, subject);
    },
    fail: (c, error, description) => errorPage(c, error, description),
  });

  app.post('/authorize/consent', async (c) => {
    const form = await c.req.parseBody();
    const found = await pendingOf(c, form);
    const session = await sessionOf(c);
    if (!found || !session) return forged(c);
    const { txn, p } = found;
    if (form.decision !== 'allow') {
      if (!(await endPending(txn, p))) return forged(c);
      return c.redirect(back(p, { error: 'access_denied', error_description: 'the user denied access' }), 303);
    }
    const key = consentKey(session.sub, p.clientId);
    const prior = (await as.store.get<Consent>(key)) ?? { scopes: [], resources: [] };
    await as.store.set(key, {
      scopes: [...new Set([...prior.scopes, ...p.scope.split(' ').filter(Boolean)])],
      resources: [...new Set([...prior.resources, p.resource])],
    });
    return issue(c, txn, p, session);
  });
}
