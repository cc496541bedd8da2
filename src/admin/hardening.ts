// Middleware every admin route passes: security headers on each answer, and the bound on wrong
// operator credentials per address (src/auth/operator-attempts.ts).
import type { Context, MiddlewareHandler } from 'hono';
import type { OperatorAttempts } from '../auth/operator-attempts.js';

export const isHttps = (c: Context, always = false): boolean =>
  always || new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';

/** Headers for every admin response: no caching of audit data, no framing, no sniffing. */
export const hardening: MiddlewareHandler = async (c, next) => {
  await next();
  if (!c.res.headers.has('cache-control')) c.header('cache-control', 'no-store'); // the live tail sets its own
  c.header('x-content-type-options', 'nosniff');
  // Not `no-referrer`: with it Chromium sends `Origin: null` on form POSTs, which CSRF must refuse.
  c.header('referrer-policy', 'same-origin');
  c.header('x-frame-options', 'DENY');
};

/** An address past its bound of wrong credentials: its Bearer tokens are not even compared (429). */
export const bearerBound =
  (attempts: OperatorAttempts): MiddlewareHandler =>
  async (c, next) => {
    const refused = c.req.header('authorization')?.startsWith('Bearer ') === true ? attempts.refused(c) : undefined;
    if (refused) return refused;
    await next();
  };
