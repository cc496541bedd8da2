// Redirect URI rules (OAuth 2.1 §2.3.1, §7.5; RFC 8252 §7.3): a registered URI is https, an http
// loopback address (native apps; the port may differ at run time), or a private-use scheme of a
// native app. A request's redirect_uri must equal a registered one exactly — only a loopback URI's
// port may differ. No fragments, no wildcards, no userinfo.

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
const FORBIDDEN_SCHEMES = new Set([
  'javascript:',
  'data:',
  'file:',
  'vbscript:',
  'blob:',
  'about:',
  'ftp:',
  'ws:',
  'wss:',
]);

function parse(uri: string): URL | undefined {
  try {
    return new URL(uri);
  } catch {
    return undefined;
  }
}

/** Why a URI cannot be registered, or undefined when it can. */
export function redirectUriProblem(uri: string): string | undefined {
  const u = parse(uri);
  if (!u) return `not a URL: ${uri}`;
  if (u.hash || uri.includes('#')) return `a redirect URI has no fragment: ${uri}`;
  if (u.username || u.password) return `a redirect URI has no user info: ${uri}`;
  if (FORBIDDEN_SCHEMES.has(u.protocol)) return `scheme ${u.protocol} is not allowed: ${uri}`;
  if (u.protocol === 'http:' && !LOOPBACK.has(u.hostname)) return `http is only allowed on a loopback address: ${uri}`;
  if ((u.protocol === 'https:' || u.protocol === 'http:') && !u.hostname) return `no host: ${uri}`;
  return undefined;
}

/** True when `asked` is one of `registered` (exactly, or a loopback URI with another port). */
export function redirectUriMatches(registered: readonly string[], asked: string): boolean {
  if (registered.includes(asked)) return true;
  const a = parse(asked);
  if (a?.protocol !== 'http:' || !LOOPBACK.has(a.hostname) || a.hash || a.username || a.password) return false;
  return registered.some((r) => {
    const u = parse(r);
    return (
      u !== undefined &&
      u.protocol === 'http:' &&
      u.hostname === a.hostname &&
      u.pathname === a.pathname &&
      u.search === a.search
    );
  });
}
