// The connections pages' one HTML frame: no caching, no framing, no scripts, and a Referrer-Policy
// that keeps the form posts' Origin (routes.ts, signed-in.ts).
import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

const STYLE = raw(`<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2433}
h1{font-size:1.3rem}code{background:#eef1f6;padding:.1rem .3rem;border-radius:3px}
button{font:inherit;padding:.4rem 1rem;border-radius:4px;border:1px solid #445;background:#2b4c7e;color:#fff;cursor:pointer}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.4rem;border-bottom:1px solid #dde}
.err{color:#a02020}
</style>`);

export function page(
  c: Context,
  status: 200 | 400 | 401 | 403 | 409 | 413 | 502,
  title: string,
  body: HtmlEscapedString | Promise<HtmlEscapedString>,
) {
  c.header('cache-control', 'no-store');
  // same-origin: the form's POST names its origin (no-referrer would send Origin: null); the AS sees no Referer.
  c.header('referrer-policy', 'same-origin');
  c.header('x-frame-options', 'DENY');
  c.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  return c.html(
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>${STYLE}</head><body><h1>${title}</h1>${body}</body></html>`,
    status,
  );
}
