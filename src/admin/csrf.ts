// CSRF for the admin's POST routes. The cookie is SameSite=Strict already; this is the second lock:
// a browser always names the page that sent a POST in `Origin`, and a page on another site cannot
// forge that header (nor Authorization, nor X-Forwarded-Host).
import type { Context } from 'hono';

export function sameOrigin(c: Context, opts: { allowMissing?: boolean } = {}): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') return false;
  const origin = c.req.header('origin');
  // No Origin: not a browser form or fetch (CLI, scripts), which must then authenticate by header.
  if (origin === undefined)
    return opts.allowMissing === true || c.req.header('authorization')?.startsWith('Bearer ') === true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // includes the opaque origin "null"
  }
  // Behind a proxy that rewrites Host, the public host is in X-Forwarded-Host.
  const ours = [c.req.header('host'), c.req.header('x-forwarded-host')?.split(',')[0]?.trim(), new URL(c.req.url).host];
  return ours.some((h) => h !== undefined && h !== '' && h.toLowerCase() === host.toLowerCase());
}
