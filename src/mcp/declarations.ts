// What a client declares about itself (initialize's `clientInfo` and `capabilities`, or a 2026
// request's envelope): capped when received, and reduced to what the gateway uses before it is kept
// in memory or sealed into a session id. Uncapped, an initialize with 3.6 MB of declarations made a
// 4.8 MB Mcp-Session-Id and ~9 MiB of memory per session (the per-agent cap of 1 000 sessions
// allowed ~9 GiB).
import { isObject } from './jsonrpc.js';

/** Serialized size allowed for `clientInfo` and for `capabilities`, each (README: limits of what a client may send). */
export const MAX_DECLARATION_BYTES = 8 * 1024;
/** What of the capabilities travels in a sealed session id; larger declarations are reduced (see below). */
export const SEALED_CAPABILITY_BYTES = 768;
/** Serialized size of `clientInfo.name` and `.version` each, as kept (audit records name the client). */
const CLIENT_FIELD_BYTES = 160;
/** A capability whose value is larger than this is sealed as `{}` when the whole is over budget. */
const SEALED_VALUE_BYTES = 128;
/** The capabilities the gateway and upstreams act on: sealed first, so a reduction never drops them. */
const KNOWN = ['roots', 'sampling', 'elicitation', 'tasks', 'extensions', 'experimental'];

const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v) ?? '');

/** Why a declaration is refused (-32602), or undefined. `what` names it in the message. */
export function declarationProblem(what: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) return `${what} must be an object`;
  const bytes = jsonBytes(v);
  return bytes > MAX_DECLARATION_BYTES
    ? `${what} is ${bytes} bytes serialized; at most ${MAX_DECLARATION_BYTES} are accepted`
    : undefined;
}

/** A string shortened until its JSON form fits `bytes` (control characters serialize 6× larger). */
function clip(s: string, bytes: number): string {
  let out = s.length > bytes ? s.slice(0, bytes) : s;
  while (jsonBytes(out) > bytes) out = out.slice(0, Math.floor(out.length / 2));
  return out;
}

/** The client's name and version (what audit records show); the rest (title, icons, …) is dropped. */
export function keptClientInfo(v: unknown): Record<string, unknown> {
  if (!isObject(v)) return {};
  const out: Record<string, unknown> = {};
  if (typeof v.name === 'string') out.name = clip(v.name, CLIENT_FIELD_BYTES);
  if (typeof v.version === 'string') out.version = clip(v.version, CLIENT_FIELD_BYTES);
  return out;
}

/**
 * The capabilities as sealed into a session id: whole when they fit SEALED_CAPABILITY_BYTES;
 * otherwise known capabilities first, then others, each with its value when that is small and `{}`
 * when not, while they fit. An instance that adopts the session from its id sees every capability
 * the gateway tests for (`roots`, `sampling`, `elicitation` are checked by name), possibly without
 * large sub-declarations; the instance that opened it keeps them whole.
 */
export function sealedCapabilities(caps: Record<string, unknown>): Record<string, unknown> {
  if (jsonBytes(caps) <= SEALED_CAPABILITY_BYTES) return caps;
  const keys = [...KNOWN.filter((k) => k in caps), ...Object.keys(caps).filter((k) => !KNOWN.includes(k))];
  const out: Record<string, unknown> = {};
  let size = 2; // {}
  for (const k of keys) {
    const v = caps[k];
    const value = jsonBytes(v) <= SEALED_VALUE_BYTES ? v : {};
    const entry = jsonBytes(k) + 1 + jsonBytes(value) + 1;
    if (size + entry > SEALED_CAPABILITY_BYTES) continue;
    out[k] = value;
    size += entry;
  }
  return out;
}
