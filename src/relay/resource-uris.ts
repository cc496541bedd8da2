// Resource URIs the way policies see them and upstreams receive them: normalised (see
// src/policy/normalize.ts), so the URI a policy judged is the URI that is read.
import { GatewayError } from '../errors.js';
import { normalizeUri } from '../policy/normalize.js';
import type { Entry } from '../upstream/catalog.js';
import type { Target } from './view.js';

/** The target with its URI normalised; a URI with an ambiguous spelling is refused (-32602). */
export function normalizedTarget(t: Target): Target {
  const n = normalizeUri(t.native);
  if (!n.ok) throw new GatewayError('invalid_params', `invalid resource URI: ${n.reason}`);
  return n.value === t.native ? t : { upstream: t.upstream, native: n.value };
}

// Catalog entries are replaced, never changed, on a refresh: their normal form is computed once.
const normalized = new WeakMap<Entry, string | null>();

/** A listed resource's URI in normal form (null: refused, so never shown), as lists decide on it. */
export function listedUri(e: Entry): string | null {
  let n = normalized.get(e);
  if (n === undefined) {
    const r = normalizeUri(String(e.uri));
    normalized.set(e, (n = r.ok ? r.value : null));
  }
  return n;
}
