// The browser side of upstream connections (/connections/*): the link an agent was given starts an
// authorization at the upstream's AS, the callback stores the user's tokens, and a small page lets a
// user see and revoke their connections. Who the user is comes from a sealed link Tollgate gave
// that user's agent (single-use for connecting); the flow is bound to the browser that opened it.
// With auth.oauth, a link naming a user of the front door also needs the browser signed in as that
// user, and the page is that signed-in user's (signed-in.ts).
import type { Context } from 'hono';
import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { html } from 'hono/html';
import { sameOrigin } from '../admin/csrf.js';
import { GatewayError } from '../errors.js';
import { readBody } from '../http/node-io.js';
import type { Credentials } from './credentials.js';
import { browserHash, mintLink, newId, openLink, openState, sameHash } from './links.js';
import { page } from './page.js';
import {
  browserFor,
  mountConnectionsSignIn,
  notYours,
  signedInAgent,
  toSignIn,
  type ConnectionsSignIn,
} from './signed-in.js';
import type { VaultKeys } from './vault.js';

const FLOW_COOKIE = 'tollgate_flow';
/** The forms hold a link (at most 8192 characters, see VaultKeys.open) or an upstream name. */
const MAX_FORM_BYTES = 16 * 1024;
/** The page's user from a sealed manage link (identities without a sign-in here). */
const USER_COOKIE = 'tollgate_user';

export interface ConnectionRoutesOptions {
  credentials: Credentials;
  keys: VaultKeys;
  linkTtlMs: number;
  secureCookies: boolean;
  /** Tollgate's public base URL. */
  baseUrl(): string;
  /** With auth.oauth: the front door's users sign in, and links naming them need it (signed-in.ts). */
  signIn?: ConnectionsSignIn;
}

export function connectionRoutes(o: ConnectionRoutesOptions): Hono {
  const app = new Hono();
  const cookieBase = { httpOnly: true, secure: o.secureCookies, path: '/connections' } as const;
  const si = o.signIn;
  if (si) mountConnectionsSignIn(app, si, { secure: o.secureCookies, legacyCookie: USER_COOKIE });

  // Client ID Metadata Document: Tollgate's client_id at authorization servers that support them.
  app.get('/client-metadata.json', (c) => {
    const base = o.baseUrl().replace(/\/$/, '');
    return c.json({
      client_id: `${base}/connections/client-metadata.json`,
      client_name: 'Tollgate',
      client_uri: base,
      redirect_uris: [`${base}/connections/callback`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
  });

  const badLink = (c: Context, why: 'invalid' | 'expired') =>
    page(
      c,
      400,
      'This link does not work',
      html`<p class="err">The link is ${why === 'expired' ? 'expired' : 'not valid'}. Ask your agent to try again: it will get a new link.</p>`,
    );

  // Opening the link shows whose connection it makes; nothing happens until the user confirms (so a
  // link preview or prefetch cannot use up the single-use link).
  // A browser not (visibly) signed in sees the same page: a link followed from another site does not
  // carry the Strict session cookie, and the same-origin POST that does decides (and may sign in).
  app.get('/start', async (c) => {
    const t = c.req.query('t');
    const link = openLink(o.keys, t, 'connect');
    if (typeof link === 'string') return badLink(c, link);
    const browser = await browserFor(c, si, link.a);
    if (typeof browser === 'object') return notYours(c, link.a, browser.other);
    return page(
      c,
      200,
      `Connect ${link.u}`,
      html`<p>Tollgate will ask <code>${link.u}</code> for access on behalf of <code>${link.a}</code>. Continue only if that is you.</p>${
        browser === 'same' ? html`<p id="signed-in-as">You are signed in as <code>${link.a}</code>.</p>` : ''
      }
<form method="post" action="/connections/start"><input type="hidden" name="t" value="${t}"><button id="continue">Continue</button></form>`,
    );
  });

  /** A posted form, read up to MAX_FORM_BYTES (whoever reaches the page may post: no memory of ours to fill). */
  const formOf = (c: Context): Promise<URLSearchParams | undefined> =>
    readBody(c, MAX_FORM_BYTES).then(
      (b) => new URLSearchParams(b),
      () => undefined,
    );
  const tooLarge = (c: Context) =>
    page(c, 413, 'Refused', html`<p class="err">The form is larger than ${MAX_FORM_BYTES} bytes.</p>`);

  app.post('/start', async (c) => {
    if (!sameOrigin(c)) return page(c, 403, 'Refused', html`<p class="err">This form must be sent from this page.</p>`);
    const form = await formOf(c);
    if (!form) return tooLarge(c);
    const t = form.get('t') ?? undefined;
    const link = openLink(o.keys, t, 'connect');
    if (typeof link === 'string') return badLink(c, link);
    const up = o.credentials.oauth(link.u);
    const vault = o.credentials.vault;
    if (!up || !vault) return badLink(c, 'invalid');
    // Before the link is used up: someone else's browser leaves it to its user.
    const at = await browserFor(c, si, link.a);
    if (at === 'none') return toSignIn(c, `/connections/start?${new URLSearchParams({ t: t ?? '' })}`);
    if (typeof at === 'object') return notYours(c, link.a, at.other);
    if (!(await vault.store.claim(`link:${link.j}`, o.linkTtlMs)))
      return page(
        c,
        409,
        'This link was used already',
        html`<p class="err">Ask your agent to try again: it will get a new link.</p>`,
      );
    // One random value per browser: the callback must come back to the browser that started the flow.
    let browser = getCookie(c, FLOW_COOKIE);
    if (!browser || !/^[A-Za-z0-9_-]{22,64}$/.test(browser)) {
      browser = newId();
      setCookie(c, FLOW_COOKIE, browser, { ...cookieBase, sameSite: 'Lax', maxAge: Math.ceil(o.linkTtlMs / 1000) });
    }
    try {
      return c.redirect(await up.authorizationUrl(link.a, browserHash(browser)), 303);
    } catch (err) {
      const msg = err instanceof GatewayError ? err.message : 'internal error';
      return page(c, 502, 'Cannot reach the authorization server', html`<p class="err">${msg}</p>`);
    }
  });

  app.get('/callback', async (c) => {
    const state = openState(o.keys, c.req.query('state'));
    if (state === 'invalid')
      return page(c, 400, 'Authorization failed', html`<p class="err">The answer's state is not valid.</p>`);
    if (state === 'expired')
      return page(
        c,
        400,
        'Authorization failed',
        html`<p class="err">The authorization took too long. Ask your agent for a new link.</p>`,
      );
    const browser = getCookie(c, FLOW_COOKIE);
    if (!browser || !sameHash(browserHash(browser), state.b))
      return page(
        c,
        403,
        'Authorization refused',
        html`<p class="err">This authorization was started in another browser. Open the link your agent gave you in this browser.</p>`,
      );
    const vault = o.credentials.vault;
    const up = o.credentials.oauth(state.u);
    if (!vault || !up) return page(c, 400, 'Authorization failed', html`<p class="err">Unknown upstream.</p>`);
    if (!(await vault.store.claim(`state:${state.n}`, o.linkTtlMs)))
      return page(c, 409, 'Authorization already used', html`<p class="err">This answer was used already.</p>`);
    const error = c.req.query('error');
    const code = c.req.query('code');
    if (error !== undefined || !code)
      return page(
        c,
        400,
        'Authorization refused',
        html`<p class="err">${state.u} answered: ${(error ?? 'no code').slice(0, 100)}</p>`,
      );
    try {
      await up.complete(state, code, c.req.query('iss'));
    } catch (err) {
      const msg = err instanceof GatewayError ? err.message : err instanceof Error ? err.message : 'failed';
      return page(c, 502, 'Authorization failed', html`<p class="err">${msg.slice(0, 200)}</p>`);
    }
    // A user who signs in here reaches the page by signing in; others by a sealed link.
    const manage = si?.isUserAgent(state.a)
      ? `${o.baseUrl().replace(/\/$/, '')}/connections`
      : mintLink(o.keys, o.baseUrl(), { a: state.a, u: '', e: Date.now() + o.linkTtlMs, p: 'manage' });
    return page(
      c,
      200,
      `Connected ${state.u}`,
      html`<p id="connected">Your account at <code>${state.u}</code> is connected for <code>${state.a}</code>. You can close this window; your agent can try again.</p>
<p><a id="manage" href="${manage}">See or revoke your connections</a></p>`,
    );
  });

  /** The page's user: a sealed manage link's (identities without a sign-in here), else the signed-in user's. */
  const userOf = async (c: Context): Promise<string | undefined> => {
    const v = getCookie(c, USER_COOKIE);
    const s = v ? (o.keys.open(v, 'tollgate-user') as { a?: unknown; e?: unknown } | undefined) : undefined;
    const linked = s && typeof s.a === 'string' && typeof s.e === 'number' && s.e > Date.now() ? s.a : undefined;
    // A cookie naming a front-door user (set before sign-in was required) is no longer enough.
    if (linked !== undefined && !si?.isUserAgent(linked)) return linked;
    return si && signedInAgent(c, si);
  };

  app.get('/', async (c) => {
    const t = c.req.query('t');
    if (t !== undefined) {
      const link = openLink(o.keys, t, 'manage');
      if (typeof link === 'string') return badLink(c, link);
      const browser = await browserFor(c, si, link.a);
      if (browser === 'none') return toSignIn(c, `/connections?${new URLSearchParams({ t })}`);
      if (typeof browser === 'object') return notYours(c, link.a, browser.other);
      if (browser === 'same') deleteCookie(c, USER_COOKIE, { path: '/connections', secure: o.secureCookies });
      else {
        const session = o.keys.seal({ a: link.a, e: Date.now() + 3_600_000 }, 'tollgate-user');
        setCookie(c, USER_COOKIE, session, { ...cookieBase, sameSite: 'Strict', maxAge: 3600 });
      }
      return c.redirect('/connections', 303);
    }
    const agent = await userOf(c);
    if (!agent && si) return toSignIn(c, '/connections');
    if (!agent)
      return page(c, 403, 'Your connections', html`<p class="err">Open the connections link your agent gave you.</p>`);
    const list = await o.credentials.connections(agent);
    const rows = list.map(
      (x) =>
        html`<tr><td><code>${x.upstream}</code></td><td>${new Date(x.connectedAt).toISOString()}</td><td><form method="post" action="/connections/revoke"><input type="hidden" name="upstream" value="${x.upstream}"><button class="revoke" data-upstream="${x.upstream}">Revoke</button></form></td></tr>`,
    );
    return page(
      c,
      200,
      'Your connections',
      html`<p>Upstream accounts connected for <code id="who">${agent}</code>.</p>${
        list.length === 0
          ? html`<p id="none">No connections.</p>`
          : html`<table id="connections"><tr><th>Upstream</th><th>Connected</th><th></th></tr>${rows}</table>`
      }`,
    );
  });

  app.post('/revoke', async (c) => {
    if (!sameOrigin(c)) return page(c, 403, 'Refused', html`<p class="err">This form must be sent from this page.</p>`);
    const agent = await userOf(c);
    if (!agent) return page(c, 403, 'Refused', html`<p class="err">Open the connections link your agent gave you.</p>`);
    const form = await formOf(c);
    if (!form) return tooLarge(c);
    const upstream = form.get('upstream') ?? '';
    await o.credentials.revoke(upstream, agent);
    return c.redirect('/connections', 303);
  });

  return app;
}
