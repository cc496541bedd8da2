// The pages the authorization flow answers with (login, consent, errors): the components are in
// pages.tsx; here, the headers every page is sent with and the props each is rendered from.
import type { Context } from 'hono';
import type { OAuthClient } from './clients.js';
import type { Subject } from './grants.js';
import { ConsentPage, ErrorPage, LoginPage, type LoginPageProps } from './pages.js';
import type { Pending } from './pending-logins.js';
import type { OAuthServer } from './server.js';

const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src https:; frame-ancestors 'none'",
  'referrer-policy': 'same-origin', // no-referrer would make a form's Origin "null"
};

type Status = 200 | 400 | 401 | 403 | 413 | 429;

function page(c: Context, body: ReturnType<typeof ErrorPage>, status: Status = 200, extra = {}) {
  return c.html(body, status, { ...PAGE_HEADERS, ...extra });
}

export function errorPage(c: Context, error: string, description: string, status: 400 | 401 | 403 = 400) {
  return page(c, <ErrorPage error={error} description={description} />, status);
}

/** A form that names no pending login this browser holds, or whose CSRF token or origin is wrong. */
export const forged = (c: Context) =>
  errorPage(c, 'invalid_request', 'this form is stale or was not sent from the login page; start again', 403);

/** A form over the body limit; the rest of its body is never read, so the connection is closed. */
export const formTooLarge = (c: Context) =>
  page(c, <ErrorPage error="invalid_request" description="the form is too large" />, 413, { connection: 'close' });

export const clientName = (cl: OAuthClient): string => cl.client_name ?? cl.client_id;

export function loginPage(c: Context, props: LoginPageProps, status: 200 | 401 | 429 = 200, extra = {}) {
  return page(c, <LoginPage {...props} />, status, extra);
}

/** Asks the logged-in user to allow the client the scopes and resource the pending login names. */
export async function consentPage(c: Context, as: OAuthServer, txn: string, p: Pending, s: Subject) {
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
}
