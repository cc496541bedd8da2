// Which MCP era a POSTed message belongs to, decided per request as the 2026-07-28 revision's
// backward-compatibility rules describe: the body's `_meta` envelope decides; headers never
// override the body. 2025-era messages go on to the session path; 2026 ones are stateless.
import { isObject, type JsonRpcMessage } from './jsonrpc.js';

export const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
export const META_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
export const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
export const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';

/** Revisions served statelessly (no initialize, no sessions). */
export const MODERN_VERSIONS = ['2026-07-28'] as const;

export const isModernVersion = (v: string | undefined): boolean => v !== undefined && v >= '2026-07-28';

export type Era =
  | { era: '2025' }
  | { era: '2026'; version: string; meta: Record<string, unknown> }
  | { era: 'invalid'; message: string };

/** The envelope of a message, if it carries one. */
function envelope(m: unknown): Record<string, unknown> | undefined {
  if (!isObject(m) || !isObject(m.params) || !isObject(m.params._meta)) return undefined;
  return META_VERSION in m.params._meta ? m.params._meta : undefined;
}

export function classify(messages: readonly JsonRpcMessage[], batch: boolean, headerVersion: string | undefined): Era {
  if (batch) {
    return messages.some((m) => envelope(m))
      ? { era: 'invalid', message: '2026-07-28 messages cannot be batched' }
      : { era: '2025' };
  }
  const m = messages[0];
  if (!m || !('method' in m)) return { era: '2025' }; // a response to one of our requests
  const meta = envelope(m);
  if (meta) {
    const version = meta[META_VERSION];
    return typeof version === 'string'
      ? { era: '2026', version, meta }
      : { era: 'invalid', message: `_meta["${META_VERSION}"] must be a string` };
  }
  if (m.method !== 'initialize' && isModernVersion(headerVersion)) {
    return {
      era: 'invalid',
      message: `a ${headerVersion} request needs params._meta["${META_VERSION}"] and ["${META_CAPABILITIES}"]`,
    };
  }
  return { era: '2025' };
}

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/;

/** Decodes a mirrored header value (`=?base64?…?=` carries values that are not plain ASCII). */
export function decodeHeaderValue(v: string): string | undefined {
  const m = SENTINEL.exec(v);
  if (!m) return v;
  try {
    return Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  } catch {
    return undefined;
  }
}
