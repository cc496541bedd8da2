// One spelling per resource URI and per file path, so that a policy decides on what the upstream
// will act on: `file:///public/../secret/x`, `file:///public/%2e%2e/secret/x` and
// `file:///secret/x` are one URI, and an allow-glob over `file:///public/*` must not see the first
// two as "inside public". URIs are normalised as RFC 3986 §6.2.2 says (case of scheme, host and
// percent-escapes; unreserved characters decoded; dot segments removed) and the normal form is what
// gets forwarded. Spellings whose meaning depends on the server (an encoded `/`, a backslash, NUL, a
// double-encoded escape, `..;`, look-alike Unicode dots and slashes) are refused rather than guessed.
import { posix } from 'node:path';

export type Normalized = { ok: true; value: string } | { ok: false; reason: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
// C0 controls (NUL included) and DEL: never part of a URI, and a NUL cuts C strings short.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** RFC 3986 §5.2.4: removes `.` and `..` segments from a path. */
export function removeDotSegments(path: string): string {
  const input = path.split('/');
  const out: string[] = [];
  const absolute = path.startsWith('/');
  for (let i = absolute ? 1 : 0; i < input.length; i++) {
    const seg = input[i] as string;
    const last = i === input.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..' && out.length > 0) out.pop();
      if (last) out.push(''); // `a/b/..` is the folder `a/`
      continue;
    }
    out.push(seg);
  }
  return (absolute ? '/' : '') + out.join('/');
}

/**
 * Percent-escapes of one URI component: unreserved characters decoded, the rest upper-case hex.
 * Returns a reason when an escape is malformed or (in a path) ambiguous.
 */
function normalizeEscapes(part: string, inPath: boolean): Normalized {
  if (!part.includes('%')) return { ok: true, value: part };
  let out = '';
  for (let i = 0; i < part.length; i++) {
    const ch = part[i] as string;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const hex = part.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { ok: false, reason: 'malformed percent-escape' };
    const code = Number.parseInt(hex, 16);
    if (code === 0) return { ok: false, reason: 'encoded NUL' };
    if (inPath && code === 0x2f) return { ok: false, reason: 'encoded "/" in the path' };
    if (inPath && code === 0x5c) return { ok: false, reason: 'encoded "\\" in the path' };
    if (inPath && code === 0x25 && /^[0-9A-Fa-f]{2}/.test(part.slice(i + 3, i + 5)))
      return { ok: false, reason: 'double percent-encoding in the path' };
    const c = String.fromCharCode(code);
    out += code < 0x80 && UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return { ok: true, value: out };
}

/**
 * A segment some server could read as `.`, `..` or as more than one segment: `..;x` (servlet
 * path parameters) and Unicode look-alikes that NFKC folds into dots or slashes (`．．`, `／`).
 */
function ambiguousSegment(seg: string, escaped: boolean): string | undefined {
  if (/^\.\.?;/.test(seg)) return 'dot segment with parameters';
  if (!(escaped ? /[%\u0080-\uffff]/ : /[\u0080-\uffff]/).test(seg)) return undefined; // plain ASCII: nothing folds
  let decoded = seg;
  try {
    if (escaped) decoded = decodeURIComponent(seg);
  } catch {
    return 'percent-escapes that are not UTF-8'; // overlong forms of "." are decoded by lax servers
  }
  const folded = decoded.normalize('NFKC');
  if (/^\.\.?;/.test(folded) || folded === '.' || folded === '..' || /[/\\]/.test(folded))
    return 'Unicode look-alike of "." or "/"';
  return undefined;
}

/** The normal form of an absolute URI (RFC 3986 §6.2.2), or why it is refused. */
export function normalizeUri(uri: string): Normalized {
  if (CONTROL.test(uri)) return { ok: false, reason: 'control character' };
  if (uri.includes('\\')) return { ok: false, reason: 'backslash' };
  const m = SCHEME.exec(uri);
  if (!m) return { ok: false, reason: 'not an absolute URI (no scheme)' };
  const scheme = (m[1] as string).toLowerCase();
  let rest = uri.slice(m[0].length);
  let fragment: string | undefined;
  let query: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let authority: string | undefined;
  let path = rest;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    path = slash < 0 ? '' : rest.slice(slash);
  }
  const parts: string[] = [`${scheme}:`];
  if (authority !== undefined) {
    const a = normalizeEscapes(authority, false);
    if (!a.ok) return a;
    // Host names are case-insensitive (user info is not): `mem://SECRET` is `mem://secret`.
    const at = a.value.lastIndexOf('@');
    parts.push(`//${a.value.slice(0, at + 1)}${a.value.slice(at + 1).toLowerCase()}`);
  }
  const p = normalizeEscapes(path, true);
  if (!p.ok) return p;
  for (const seg of p.value.split('/')) {
    const why = ambiguousSegment(seg, true);
    if (why) return { ok: false, reason: why };
  }
  parts.push(removeDotSegments(p.value));
  for (const [sep, part] of [
    ['?', query],
    ['#', fragment],
  ] as const) {
    if (part === undefined) continue;
    const n = normalizeEscapes(part, false);
    if (!n.ok) return n;
    parts.push(sep + n.value);
  }
  return { ok: true, value: parts.join('') };
}

/**
 * The lexical normal form of a file path (for CEL's `normalizePath`): `.`, `..` and repeated `/`
 * resolved. Refused (so a constraint using it fails closed): NUL and control characters, backslashes,
 * percent-escapes (some servers decode them, others do not), `..;` and Unicode look-alikes of `.`/`/`.
 */
export function normalizePath(path: string): Normalized {
  if (CONTROL.test(path)) return { ok: false, reason: 'control character' };
  if (path.includes('\\')) return { ok: false, reason: 'backslash' };
  if (/%[0-9A-Fa-f]{2}/.test(path)) return { ok: false, reason: 'percent-escape' };
  for (const seg of path.split('/')) {
    const why = ambiguousSegment(seg, false);
    if (why) return { ok: false, reason: why };
  }
  return { ok: true, value: path === '' ? '' : posix.normalize(path) };
}
