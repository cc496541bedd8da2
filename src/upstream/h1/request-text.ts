// A request's bytes as one string (a Buffer when a header value has obs-text), written with one
// socket write. Header names and values are checked: some carry what an agent sent (a request id, a
// 2026 request's parameter headers), and a CR or LF in one would start a header, or a request, of
// the agent's choosing. The channel's own headers (the same object from one request to the next)
// are checked and rendered once.

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values (RFC 9110 §5.5), obs-text included (as undici and Node allow: an agent's Mcp-Param-* value is passed on as it came). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A head with obs-text is written as latin1 (its bytes), so it cannot share one UTF-8 string with the body. */
const OBS_TEXT = /[\x80-\xff]/;
/** Set here, from the request itself; a caller's would contradict it. */
const OURS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect']);

export class InvalidRequestHeader extends Error {
  readonly code = 'TOLLGATE_INVALID_HEADER';
}

/** Rendered header blocks of the channels' header objects (each is replaced, never changed, when its headers change). */
const rendered = new WeakMap<Readonly<Record<string, string>>, string>();

/**
 * The request line, `host` (unless a header names one), `base` then `extra` (which replaces a header
 * of `base` by the same name, as `{ ...base, ...extra }` would), and the body's length.
 */
export function requestText(
  method: string,
  path: string,
  host: string,
  base: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> | undefined,
  body: string,
): string | Buffer {
  let fields: string;
  if (extra && overlaps(base, extra)) {
    const kept: Record<string, string> = {};
    for (const name in base) if (!(name in extra)) kept[name] = base[name] as string;
    fields = render(kept, host, true) + render(extra, undefined, false);
  } else {
    let block = rendered.get(base);
    if (block === undefined) {
      block = render(base, host, true);
      rendered.set(base, block);
    }
    fields = extra ? block + render(extra, undefined, false) : block;
  }
  const head = `${method} ${path} HTTP/1.1\r\n${fields}content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
  // The common case, ASCII headers: one string, written as UTF-8. Otherwise the head's own bytes.
  if (!OBS_TEXT.test(fields)) return head + body;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body, 'utf8')]);
}

function overlaps(base: Readonly<Record<string, string>>, extra: Readonly<Record<string, string>>): boolean {
  for (const name in extra) if (name in base) return true;
  return false;
}

/**
 * `headers` as header lines, and `host:` first unless they name it (or `host` is undefined). Only the
 * channel's own headers (`mayNameHost`) may name the host: a call's may not.
 */
function render(headers: Readonly<Record<string, string>>, host: string | undefined, mayNameHost: boolean): string {
  let out = '';
  let named = false;
  for (const name in headers) {
    const value = headers[name] as string;
    const lower = name.toLowerCase();
    if (!TOKEN.test(name) || OURS.has(lower) || (lower === 'host' && !mayNameHost))
      throw new InvalidRequestHeader(`invalid request header name ${JSON.stringify(name.slice(0, 60))}`);
    if (!FIELD_VALUE.test(value)) throw new InvalidRequestHeader(`invalid value for request header ${name}`);
    if (lower === 'host') named = true;
    out += `${name}: ${value}\r\n`;
  }
  return named || host === undefined ? out : `host: ${host}\r\n${out}`;
}
