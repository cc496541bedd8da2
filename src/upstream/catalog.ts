// What one upstream offers, fetched whole (all pages) after connecting and again on list_changed.
// Agents' list calls are answered from here: no upstream round trip, and a down upstream simply
// contributes nothing.
import { isObject } from '../mcp/jsonrpc.js';
import type { UpstreamSession } from './session.js';

export type CatalogKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

export const LIST_METHOD: Record<CatalogKind, string> = {
  tools: 'tools/list',
  prompts: 'prompts/list',
  resources: 'resources/list',
  resourceTemplates: 'resources/templates/list',
};

/** Which capability an upstream must declare for us to ask for each list. */
export const CAPABILITY_OF: Record<CatalogKind, string> = {
  tools: 'tools',
  prompts: 'prompts',
  resources: 'resources',
  resourceTemplates: 'resources',
};

export type Entry = Record<string, unknown>;

export interface Catalog {
  tools: readonly Entry[];
  prompts: readonly Entry[];
  resources: readonly Entry[];
  resourceTemplates: readonly Entry[];
}

export const emptyCatalog = (): Catalog => ({ tools: [], prompts: [], resources: [], resourceTemplates: [] });

const MAX_PAGES = 100;

/**
 * Entries kept per list per upstream unless configured (`max_catalog_entries`). Each is judged,
 * pinned and merged into every agent's list: an upstream listing millions must not make that work
 * (and the pin file) grow without bound.
 */
export const DEFAULT_MAX_CATALOG_ENTRIES = 5000;

/**
 * Bytes fetched per list per upstream unless configured (`max_catalog_bytes`). The entry cap alone
 * let an upstream send 100 pages of `max_response_bytes` each (about 3.2 GB by default) in few or
 * no entries; past this many bytes (serialized JSON) no further page is asked for.
 */
export const DEFAULT_MAX_CATALOG_BYTES = 16 * 1024 * 1024;

/**
 * The field that names each entry. An entry without a string there is not kept: nothing can call
 * it by that name, and a tool named by a number was listed (as `<server>__7`) but never pinned, so
 * its description reached agents and could change unseen.
 */
const KEY_OF: Record<CatalogKind, string> = {
  tools: 'name',
  prompts: 'name',
  resources: 'uri',
  resourceTemplates: 'uriTemplate',
};

export interface FetchedList {
  entries: Entry[];
  /** 2026 cache hint: the shortest `ttlMs` of its pages (undefined when none gave one). */
  ttlMs: number | undefined;
  /** The upstream listed more than `maxEntries` or `maxBytes`: the rest was not fetched or kept. */
  truncated: boolean;
  /** Which cap cut it (when truncated). */
  cutBy?: 'entries' | 'bytes';
}

const bytesOf = (v: unknown): number => Buffer.byteLength(JSON.stringify(v) ?? '');

export async function fetchList(
  session: UpstreamSession,
  kind: CatalogKind,
  timeoutMs: number,
  maxEntries = DEFAULT_MAX_CATALOG_ENTRIES,
  maxBytes = DEFAULT_MAX_CATALOG_BYTES,
): Promise<FetchedList> {
  const out: FetchedList = { entries: [], ttlMs: undefined, truncated: false };
  const cut = (by: 'entries' | 'bytes'): void => {
    out.truncated = true;
    out.cutBy ??= by;
  };
  // Pages as received (whatever they hold besides entries) decide when to stop asking; kept
  // entries are counted too, so what stays in memory is within maxBytes as well.
  let fetchedBytes = 0;
  let keptBytes = 0;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await session.request(LIST_METHOD[kind], cursor ? { cursor } : undefined, {
      timeoutMs,
      maxTotalMs: timeoutMs,
    });
    if ('error' in res) {
      if (res.error.code === -32601) return out; // declared but not implemented: treat as empty
      throw new Error(`${LIST_METHOD[kind]} failed: ${res.error.message}`);
    }
    fetchedBytes += bytesOf(res.result);
    const items = res.result[kind];
    const key = KEY_OF[kind];
    if (Array.isArray(items))
      for (const it of items) {
        if (!isObject(it) || typeof it[key] !== 'string') continue;
        if (out.entries.length >= maxEntries) {
          cut('entries');
          break;
        }
        keptBytes += bytesOf(it);
        if (keptBytes > maxBytes) {
          cut('bytes');
          break;
        }
        out.entries.push(it);
      }
    const ttl = res.result.ttlMs;
    if (typeof ttl === 'number' && ttl >= 0) out.ttlMs = Math.min(out.ttlMs ?? ttl, ttl);
    cursor = typeof res.result.nextCursor === 'string' && res.result.nextCursor ? res.result.nextCursor : undefined;
    if (!cursor) return out;
    // Full: more pages would only be dropped (an entry-less page past the cap is not asked for).
    if (out.entries.length >= maxEntries) {
      cut('entries');
      return out;
    }
    if (fetchedBytes >= maxBytes || out.truncated) {
      cut('bytes');
      return out;
    }
  }
  return out;
}

export const ALL_KINDS: readonly CatalogKind[] = ['tools', 'prompts', 'resources', 'resourceTemplates'];

// A Map: method names come from the upstream.
export const LIST_CHANGED = new Map<string, CatalogKind[]>([
  ['notifications/tools/list_changed', ['tools']],
  ['notifications/prompts/list_changed', ['prompts']],
  ['notifications/resources/list_changed', ['resources', 'resourceTemplates']],
]);
