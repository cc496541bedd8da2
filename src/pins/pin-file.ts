// The pin file (JSON, operator-editable, committed beside the policies):
//
//   { "version": 1,
//     "tools":   { "<server>": { "<tool>": { "sha256": "<hex>", "pinned_at": "<ISO>", "definition": {…} } } },
//     "pending": { "<server>": { "<tool>": { "sha256": "<hex>", "seen_at": "<ISO>", "definition": {…} } } } }
//
// `tools` are the approved definitions; `pinned_at` and `definition` are optional (a hand-written
// pin may give only the hash). `pending` holds definitions the gateway saw that differ from their
// pin (or new tools, without auto-pinning), waiting for `tollgate pins approve`. Rendered with
// sorted keys so the file diffs cleanly in version control. Parsed by hand, not by zod records:
// names are untrusted keys and must never reach an object's prototype.
import { ConfigError } from '../config/yaml.js';
import { canonicalJson } from './canonical.js';
import type { Definition, PendingChange, Pin, PinBook } from './book.js';

const HEX64 = /^[0-9a-f]{64}$/;
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function parsePinFile(text: string, file: string): PinBook {
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`${file}: invalid JSON: ${(err as Error).message}`]);
  }
  const problems: string[] = [];
  const bad = (path: string, msg: string) => void problems.push(`${file} ${path}: ${msg}`);
  if (!isPlainObject(raw)) throw new ConfigError(file, [`${file}: expected a JSON object`]);
  for (const k of Object.keys(raw))
    if (k !== 'version' && k !== 'tools' && k !== 'pending' && k !== '$comment') bad(k, 'unknown key');
  if (raw.version !== undefined && raw.version !== 1) bad('version', 'only version 1 is known');
  const shelf = <T>(
    key: 'tools' | 'pending',
    entry: (v: Record<string, unknown>, path: string) => T | undefined,
  ): Map<string, Map<string, T>> => {
    const out = new Map<string, Map<string, T>>();
    const top = raw[key];
    if (top === undefined) return out;
    if (!isPlainObject(top)) return (bad(key, 'expected an object of servers'), out);
    for (const [server, tools] of Object.entries(top)) {
      if (!isPlainObject(tools)) {
        bad(`${key}.${server}`, 'expected an object of tools');
        continue;
      }
      const row = new Map<string, T>();
      for (const [tool, v] of Object.entries(tools)) {
        const path = `${key}.${server}.${tool}`;
        if (!isPlainObject(v)) {
          bad(path, 'expected an object with sha256');
          continue;
        }
        const e = entry(v, path);
        if (e !== undefined) row.set(tool, e);
      }
      if (row.size > 0) out.set(server, row);
    }
    return out;
  };
  const common = (v: Record<string, unknown>, path: string, keys: readonly string[], dateKey: string): boolean => {
    let ok = true;
    for (const k of Object.keys(v)) if (!keys.includes(k)) bad(`${path}.${k}`, 'unknown key'), (ok = false);
    if (typeof v.sha256 !== 'string' || !HEX64.test(v.sha256))
      bad(`${path}.sha256`, 'expected 64 lowercase hex characters'), (ok = false);
    if (v[dateKey] !== undefined && typeof v[dateKey] !== 'string')
      bad(`${path}.${dateKey}`, 'expected an ISO date string'), (ok = false);
    if (v.definition !== undefined && !isPlainObject(v.definition))
      bad(`${path}.definition`, 'expected an object'), (ok = false);
    return ok;
  };
  const pins = shelf<Pin>('tools', (v, path) =>
    common(v, path, ['sha256', 'pinned_at', 'definition'], 'pinned_at')
      ? {
          sha256: v.sha256 as string,
          pinnedAt: v.pinned_at as string | undefined,
          definition: v.definition as Definition | undefined,
        }
      : undefined,
  );
  const pending = shelf<PendingChange>('pending', (v, path) => {
    if (!common(v, path, ['sha256', 'seen_at', 'definition'], 'seen_at')) return undefined;
    if (v.definition === undefined)
      return (bad(`${path}.definition`, 'a pending change needs its definition'), undefined);
    return {
      sha256: v.sha256 as string,
      seenAt: typeof v.seen_at === 'string' ? v.seen_at : '',
      definition: v.definition as Definition,
    };
  });
  if (problems.length > 0) throw new ConfigError(file, problems);
  return { pins, pending };
}

/** Keys sorted (canonical order), two-space indent, trailing newline. */
export function renderPinFile(book: PinBook): string {
  const sorted = <T>(m: ReadonlyMap<string, T>): [string, T][] =>
    [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const shelf = <T>(s: ReadonlyMap<string, ReadonlyMap<string, T>>, entry: (v: T) => Record<string, unknown>) =>
    Object.fromEntries(
      sorted(s).map(([server, row]) => [server, Object.fromEntries(sorted(row).map(([tool, v]) => [tool, entry(v)]))]),
    );
  const def = (d: Definition | undefined) => (d === undefined ? undefined : (JSON.parse(canonicalJson(d)) as unknown));
  const doc = {
    version: 1,
    tools: shelf(book.pins, (p) => ({ sha256: p.sha256, pinned_at: p.pinnedAt, definition: def(p.definition) })),
    pending: shelf(book.pending, (p) => ({ sha256: p.sha256, seen_at: p.seenAt, definition: def(p.definition) })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
