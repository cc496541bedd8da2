// GET /authorize and the login and consent forms it leads to. The parameters are checked in
// authorize-request.ts (errors on a page until the client and redirect URI are known good, then
// sent back to the client); the pending login in pending-logins.ts, the session and consent in
// login-session.ts, failed-login bounds in login-attempts.ts, the pages in authorize-pages.tsx.
import { randomBytes } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { bodyLimit } from 'hono/body-limit';
import type { Subject } from './grants.js';
import type { OAuthServer } from './server.js';
import { oidcRoutes } from './oidc.js';
import { checkAuthorizeRequest, type ClientRedirect, redirectBack } from './authorize-request.js';
import { clientName, consentPage, errorPage, forged, formTooLarge, loginPage } from './authorize-pages.js';
import { type Pending, pendingLogins, TXN_COOKIE } from './pending-logins.js';
import { authorizeCookie, consented, rememberConsent, sessionOf, startSession } from './login-session.js';
import { succeeded, takeAttempt } from './login-attempts.js';

const randomToken = (): string => randomBytes(24).toString('base64url');

export function authorizeRoutes(app: Hono, as: OAuthServer): void {
  const cfg = as.config;
  const pending = pendingLogins(as);
  // The forms are a few hundred bytes; without a cap, parseBody would buffer whatever anyone sends.
  // The rest of a larger body is never read: the connection cannot carry another request.
  app.use('/authorize/*', bodyLimit({ maxSize: 16 * 1024, onError: formTooLarge }));

  /** Ends a pending login with a code sent to the client: one authorization request, one code. */
  const issue = async (c: Context, txn: string, p: Pending, s: Subject) => {
    if (!(await pending.end(txn, p))) return forged(c);
    const code = await as.grants.issueCode({
      ...s,
      clientId: p.clientId,
      redirectUri: p.redirectUri,
      ...(p.redirectUriOmitted && { redirectUriOmitted: true }),
      codeChallenge: p.codeChallenge,
      resource: p.resource,
      scope: p.scope,
    });
    return c.redirect(redirectBack(as, p, { code }), 303);
  };

  app.get('/authorize', async (c) => {
    const checked = await checkAuthorizeRequest(as, c.req.query());
    if (!checked.ok && checked.page) return errorPage(c, checked.error, checked.description);
    const fail = (to: ClientRedirect, error: string, description: string) =>
      c.redirect(redirectBack(as, to, { error, error_description: description }), 302);
    if (!checked.ok) return fail(checked.to, checked.error, checked.description);
    const q = checked.request;
    const addr = as.clientAddress(c);
    if (!(await pending.hold(addr)))
      return fail(q, 'temporarily_unavailable', 'too many logins in progress; try again in a few minutes');
    const p: Pending = {
      clientId: q.client.client_id,
      redirectUri: q.redirectUri,
      ...(q.redirectUriOmitted && { redirectUriOmitted: true }),
      state: q.state,
      codeChallenge: q.codeChallenge,
      resource: q.resource,
      scope: q.scope,
      csrf: randomToken(),
      addr,
    };
    const txn = await pending.store(p);
    setCookie(c, TXN_COOKIE, txn, authorizeCookie(as, cfg.loginTtlMs));
    const session = await sessionOf(as, c);
    if (session && (await consented(as, session, p))) return issue(c, txn, p, session);
    if (session) return consentPage(c, as, txn, p, session);
    return loginPage(c, { txn, csrf: p.csrf, clientName: clientName(q.client), oidcName: cfg.oidc?.name });
  });

  app.post('/authorize/login', async (c) => {
    const form = await c.req.parseBody();
    const found = await pending.ofForm(c, form);
    if (!found) return forged(c);
    const { txn, p } = found;
    const username = typeof form.username === 'string' ? form.username.slice(0, 200) : '';
    const password = typeof form.password === 'string' ? form.password : '';
    const cl = await as.clients.find(p.clientId);
    const login = (error: string, status: 401 | 429, extra = {}) =>
      loginPage(
        c,
        { txn, csrf: p.csrf, clientName: clientName(cl), error, username, oidcName: cfg.oidc?.name },
        status,
        extra,
      );
    const ip = as.clientAddress(c);
    const attempt = await takeAttempt(as, username, ip);
    if (!attempt)
      return login('Too many failed logins. Try again later.', 429, {
        'retry-after': String(Math.ceil(cfg.loginAttempts.windowMs / 1000)),
      });
    const user = await as.users.verify(username, password);
    if (!user) {
      as.log.warn({ username, ip }, 'oauth login failed');
      return login('Wrong user name or password.', 401);
    }
    await succeeded(as, attempt);
    return finishLogin(c, txn, p, { sub: user.name, groups: user.groups, idp: 'local' });
  });

  /** A user is known (local password or the company IdP): a login session, then consent or the code. */
  const finishLogin = async (c: Context, txn: string, p: Pending, subject: Subject) => {
    await startSession(as, c, subject);
    if (await consented(as, subject, p)) return issue(c, txn, p, subject);
    return consentPage(c, as, txn, p, subject);
  };

  oidcRoutes(app, as, {
    txnCookie: TXN_COOKIE,
    pending: (txn) => pending.get(txn),
    finish: async (c, txn, subject) => {
      const p = await pending.get(txn);
      if (!p) return forged(c);
      return finishLogin(c, txn, p, subject);
    },
    fail: (c, error, description) => errorPage(c, error, description),
  });

  app.post('/authorize/consent', async (c) => {
    const form = await c.req.parseBody();
    const found = await pending.ofForm(c, form);
    const session = await sessionOf(as, c);
    if (!found || !session) return forged(c);
    const { txn, p } = found;
    if (form.decision !== 'allow') {
      if (!(await pending.end(txn, p))) return forged(c);
      return c.redirect(
        redirectBack(as, p, { error: 'access_denied', error_description: 'the user denied access' }),
        303,
      );
    }
    await rememberConsent(as, session, p);
    return issue(c, txn, p, session);
  });
}
