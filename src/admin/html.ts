// How every admin page is answered: a full HTML document with the page's CSP (scripts only with
// the page's nonce).
import type { Context } from 'hono';
import type { JSX } from 'hono/jsx/jsx-runtime';

export function csp(nonce: string | undefined): string {
  const script = nonce ? `'nonce-${nonce}'` : "'none'";
  return `default-src 'none'; script-src ${script}; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;
}

export async function html(c: Context, node: JSX.Element, status: 200 | 401, nonce?: string): Promise<Response> {
  const body = await (await node).toString();
  c.header('content-security-policy', csp(nonce));
  return c.html(`<!doctype html>${body}`, status);
}
