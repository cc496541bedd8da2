// Merged list results across the upstreams of a view, with the gateway's own pagination.
import type { Catalog, CatalogKind, Entry } from '../upstream/catalog.js';
import type { Upstream } from '../upstream/upstream.js';
import { GatewayError } from '../errors.js';
import type { View } from './view.js';

function rewriteEntry(view: View, u: Upstream, kind: CatalogKind, e: Entry): Entry {
  if (!view.namespaced) return e;
  switch (kind) {
    case 'tools':
    case 'prompts':
      return { ...e, name: view.name(u, String(e.name)) };
    case 'resources':
      return { ...e, uri: view.uri(u, String(e.uri)) };
    case 'resourceTemplates':
      return { ...e, uriTemplate: view.uri(u, String(e.uriTemplate)) };
  }
}

const encodeCursor = (offset: number): string => Buffer.from(`o:${offset}`).toString('base64url');

function decodeCursor(cursor: unknown): number {
  if (cursor === undefined) return 0;
  const m = typeof cursor === 'string' ? /^o:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString()) : null;
  if (!m) throw new GatewayError('invalid_params', 'invalid cursor');
  return Number(m[1]);
}

export function listEntries(
  view: View,
  kind: CatalogKind,
  cursor: unknown,
  pageSize: number,
  visible: (u: Upstream, kind: keyof Catalog, e: Entry) => boolean = () => true,
): Record<string, unknown> {
  const all: Entry[] = [];
  for (const u of view.upstreams) {
    if (u.state !== 'ready') continue;
    // A tool or prompt whose namespaced name spells another server's is not listed: it would show
    // this upstream's description under a name that calls (and a policy that admits) the other.
    const named = kind === 'tools' || kind === 'prompts';
    for (const e of u.catalog[kind])
      if (visible(u, kind, e) && (!named || view.owns(u, String(e.name)))) all.push(rewriteEntry(view, u, kind, e));
  }
  const offset = decodeCursor(cursor);
  const page = all.slice(offset, offset + pageSize);
  const next = offset + pageSize < all.length ? encodeCursor(offset + pageSize) : undefined;
  return next ? { [kind]: page, nextCursor: next } : { [kind]: page };
}
