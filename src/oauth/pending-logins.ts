// Logins in progress: each checked authorization request is stored under a random transaction id
// (`txn`, also in a cookie) until it ends with a code or a denial, or its login_ttl window passes.
// Pending logins are bounded overall and per address (pending_logins), so a flood of GET /authorize
// cannot grow the store without bound.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { sameOrigin } from '../admin/csrf.js';
import type { OAuthServer } from './server.js';

/** A login in progress: the checked authorization request, until the code is issued. */
export interface Pending {
  clientId: string;
  redirectUri: string;
  /** The authorization request named no redirect_uri (authorize-request.ts). */
  redirectUriOmitted?: true;
  state: string | undefined;
  codeChallenge: string;
  resource: string;
  scope: string;
  csrf: string;
  /** The client address it counts against (pending_logins), given back when it ends. */
  addr?: string;
}

export const TXN_COOKIE = 'tg_oauth_txn';

const PENDING_ALL = 'pending-logins';
const pendingKey = (addr: string) => `pending-logins:ip:${addr}`;

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function pendingLogins(as: OAuthServer) {
  const cfg = as.config;
  return {
    /** Takes a place for a new login from `addr`; false (and nothing held) when over a bound. */
    async hold(addr: string): Promise<boolean> {
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
        return false;
      }
      return true;
    },

    /** Stores a pending login (its place already held); returns its transaction id. */
    async store(p: Pending): Promise<string> {
      const txn = randomBytes(24).toString('base64url');
      await as.store.set(`txn:${txn}`, p, cfg.loginTtlMs);
      return txn;
    },

    get: (txn: string) => as.store.get<Pending>(`txn:${txn}`),

    /** Takes the pending login once (false: a concurrent post already ended it) and gives its place back. */
    async end(txn: string, p: Pending): Promise<boolean> {
      if ((await as.store.take(`txn:${txn}`)) === undefined) return false;
      const ttl = cfg.loginTtlMs;
      await Promise.all([
        as.store.incr(PENDING_ALL, ttl, -1),
        ...(p.addr === undefined ? [] : [as.store.incr(pendingKey(p.addr), ttl, -1)]),
      ]);
      return true;
    },

    /** The pending login a form names, when the cookie and the CSRF token agree with it. */
    async ofForm(c: Context, form: Record<string, unknown>): Promise<{ txn: string; p: Pending } | undefined> {
      const txn = typeof form.txn === 'string' ? form.txn : '';
      const csrf = typeof form.csrf === 'string' ? form.csrf : '';
      if (!sameOrigin(c, { allowMissing: true })) return undefined;
      const cookie = getCookie(c, TXN_COOKIE) ?? '';
      if (!txn || txn.length > 100 || !same(cookie, txn)) return undefined;
      const p = await as.store.get<Pending>(`txn:${txn}`);
      if (!p || !same(p.csrf, csrf)) return undefined;
      return { txn, p };
    },
  };
}

export type PendingLogins = ReturnType<typeof pendingLogins>;
