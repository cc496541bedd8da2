// MCP step: a tool or prompt name goes upstream only if it is exactly one the upstream listed.
// Policies match names as strings; an upstream may not: one that looks names up case-insensitively
// or after Unicode normalisation runs `denied` when asked for `DENIED` or `ｄｅｎｉｅｄ`, names no deny
// rule matches. Exact catalog membership makes the name the policy judged the name that runs.
import { GatewayError } from '../errors.js';
import { isObject, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import { quotedName } from '../mcp/quoted-name.js';
import type { McpCall, McpStep, RequestScope } from '../relay/scope.js';
import { CAPABILITY_OF, fetchList, type Catalog, type CatalogKind, type Entry } from '../upstream/catalog.js';
import type { Upstream } from '../upstream/upstream.js';
import type { UpstreamSession } from '../upstream/session.js';

/** What the step needs of an upstream. */
export interface CatalogSource {
  readonly name: string;
  readonly catalog: Catalog;
  readonly state: string;
  /** Why it is not ready, when it failed (what the agent is told). */
  readonly lastError?: string | undefined;
  /** Fetches these lists again (agents are told if they changed). */
  refreshCatalog(kinds: readonly CatalogKind[]): Promise<void>;
  /**
   * per_agent / per_session upstreams: the agent's own upstream session. A server may list more to
   * a client that declares more (e.g. a roots tool), so a name missing from the shared catalog is
   * looked up in what this session lists. Undefined for shared upstreams.
   */
  ownSession?(scope: RequestScope): UpstreamSession | Promise<UpstreamSession>;
  readonly requestMs?: number;
  /** max_catalog_entries: an own session's lists are capped as the shared catalog is. */
  readonly maxCatalogEntries?: number;
  /** max_catalog_bytes, likewise. */
  readonly maxCatalogBytes?: number;
}

export interface KnownNamesOptions {
  upstream(server: string): CatalogSource | undefined;
  /**
   * A name missing from the catalog fetches the list again (an upstream may add a tool without
   * announcing it), at most this often per upstream and list, so unknown names cannot make the
   * gateway hammer an upstream. Default 5 s.
   */
  refreshIntervalMs?: number;
}

interface Lookup {
  /** Which lists the name must be in (each entry's `field`). */
  lists: readonly { kind: CatalogKind; field: 'name' | 'uri' | 'uriTemplate' }[];
  what: string;
  asked: unknown;
}

const TOOL_LISTS: Lookup['lists'] = [{ kind: 'tools', field: 'name' }];
const PROMPT_LISTS: Lookup['lists'] = [{ kind: 'prompts', field: 'name' }];

function lookupFor(call: McpCall): Lookup | undefined {
  const p = call.request.params;
  switch (call.request.method) {
    case 'tools/call':
      return { lists: TOOL_LISTS, what: 'tool', asked: p?.name };
    case 'prompts/get':
      return { lists: PROMPT_LISTS, what: 'prompt', asked: p?.name };
    case 'completion/complete': {
      const ref = isObject(p?.ref) ? p.ref : {};
      if (call.target?.kind === 'prompt')
        return { lists: [{ kind: 'prompts', field: 'name' }], what: 'prompt', asked: ref.name };
      return {
        lists: [
          { kind: 'resourceTemplates', field: 'uriTemplate' },
          { kind: 'resources', field: 'uri' },
        ],
        what: 'resource template',
        asked: ref.uri,
      };
    }
    default:
      return undefined;
  }
}

// Name sets per catalog list, rebuilt only when the list itself is replaced (a refresh).
const indexes = new WeakMap<readonly Entry[], Map<string, Set<string>>>();
function namesOf(list: readonly Entry[], field: string): Set<string> {
  let byField = indexes.get(list);
  if (!byField) indexes.set(list, (byField = new Map()));
  let names = byField.get(field);
  if (!names) {
    names = new Set();
    for (const e of list) if (typeof e[field] === 'string') names.add(e[field]);
    byField.set(field, names);
  }
  return names;
}

const listed = (u: CatalogSource, l: Lookup, native: string): boolean =>
  l.lists.some(({ kind, field }) => namesOf(u.catalog[kind], field).has(native));

/** Lists fetched from agents' own upstream sessions (gone with the session). */
const ownLists = new WeakMap<UpstreamSession, Map<CatalogKind, { at: number; entries: Promise<readonly Entry[]> }>>();

async function listedByOwnSession(
  u: CatalogSource,
  l: Lookup,
  native: string,
  scope: RequestScope,
  intervalMs: number,
): Promise<boolean> {
  const session = await u.ownSession?.(scope);
  if (!session) return false;
  let lists = ownLists.get(session);
  if (!lists) ownLists.set(session, (lists = new Map()));
  for (const { kind, field } of l.lists) {
    if (!(CAPABILITY_OF[kind] in (session.init?.capabilities ?? {}))) continue;
    let got = lists.get(kind);
    if (!got || performance.now() - got.at >= intervalMs) {
      const entries = fetchList(session, kind, u.requestMs ?? 10_000, u.maxCatalogEntries, u.maxCatalogBytes).then(
        (f) => f.entries,
        () => [],
      );
      lists.set(kind, (got = { at: performance.now(), entries }));
    }
    if (namesOf(await got.entries, field).has(native)) return true;
  }
  return false;
}

/** An upstream as the step sees it. */
export function catalogSourceOf(u: Upstream): CatalogSource {
  const own = u.cfg.isolation !== 'shared';
  return {
    name: u.name,
    get catalog() {
      return u.catalog;
    },
    get state() {
      return u.state;
    },
    get lastError() {
      return u.lastError;
    },
    refreshCatalog: (kinds) => u.refreshCatalog(kinds),
    requestMs: u.cfg.timeouts.requestMs,
    maxCatalogEntries: u.cfg.maxCatalogEntries,
    maxCatalogBytes: u.cfg.maxCatalogBytes,
    ...(own
      ? {
          ownSession: (scope: RequestScope) =>
            u.sessionFor(scope.session?.id, scope.capabilities, scope.agentId, scope.session?.placement?.[u.name]),
        }
      : {}),
  };
}

export function knownNames(options: KnownNamesOptions): McpStep {
  const intervalMs = options.refreshIntervalMs ?? 5000;
  if (!(intervalMs >= 0)) throw new Error('knownNames: refreshIntervalMs must be >= 0');
  const refreshes = new Map<string, { last: number; pending: Promise<void> | undefined }>();

  /** One refresh at a time per upstream and lists; none sooner than the interval after the last. */
  const refresh = (u: CatalogSource, kinds: readonly CatalogKind[]): Promise<void> => {
    const key = `${u.name}\u0000${kinds.join()}`;
    let r = refreshes.get(key);
    if (!r) refreshes.set(key, (r = { last: Number.NEGATIVE_INFINITY, pending: undefined }));
    if (r.pending !== undefined) return r.pending;
    const now = performance.now();
    if (now - r.last < intervalMs) return Promise.resolve();
    r.last = now;
    const entry = r;
    entry.pending = u
      .refreshCatalog(kinds)
      .catch(() => undefined) // still unknown afterwards: the agent hears "unknown"
      .finally(() => {
        entry.pending = undefined;
      });
    return entry.pending;
  };

  // The common case (a name in the catalog) passes on synchronously: no promise of its own.
  return (call, next) => {
    const t = call.target;
    const l = t && lookupFor(call);
    if (!t || !l) return next();
    const u = options.upstream(t.server);
    if (u && listed(u, l, t.native)) return next();
    return unlisted(call, next, t, l, u);
  };

  async function unlisted(
    call: McpCall,
    next: () => Promise<JsonRpcResponse>,
    t: NonNullable<McpCall['target']>,
    l: Lookup,
    u: CatalogSource | undefined,
  ): Promise<JsonRpcResponse> {
    if (u?.state !== 'ready') {
      return new GatewayError(
        'upstream_unavailable',
        `upstream ${t.server} is unavailable${u?.lastError ? `: ${u.lastError}` : ''} (its ${l.what}s are not known yet)`,
      ).toJsonRpc(call.request.id);
    }
    // A name the policy refuses anyway is not looked for upstream: fetching lists again, or opening
    // an upstream session of the agent's own (a process, for stdio) to ask it, would let an agent
    // that may not use this upstream start its sessions and fill its max_sessions for the others.
    const reason = `Unknown ${l.what}: ${quotedName(l.asked)}`;
    if (call.scope.access.visible(t.kind, t.canonical)) {
      await refresh(
        u,
        l.lists.map((x) => x.kind),
      );
      if (listed(u, l, t.native)) return next();
      if (u.ownSession && (await listedByOwnSession(u, l, t.native, call.scope, intervalMs))) return next();
    }
    call.decision = { decision: 'denied', rule: `not in the ${t.server} catalog`, reason };
    return new GatewayError('unknown_target', reason, { reason: 'unknown_name' }).toJsonRpc(call.request.id);
  }
}
