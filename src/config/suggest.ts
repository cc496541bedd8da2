// "did you mean prefix?" for an unknown config key: the keys the schema accepts at that place, and
// the one closest to what was written. Walks zod's own schema definitions (wrappers, records,
// arrays, unions), so it stays true as keys are added; when the place cannot be found, no hint.
import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: readonly z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas a value at `path` may be checked against (several under a union). */
function objectsAt(schema: z.ZodType, path: readonly PropertyKey[], depth = 0): Def[] {
  if (depth > 64) return [];
  const def = defOf(schema);
  const inner = def.innerType ?? def.in ?? (def.type === 'lazy' ? def.getter?.() : undefined);
  if (inner) return objectsAt(inner, path, depth + 1);
  if (def.type === 'union') return (def.options ?? []).flatMap((o) => objectsAt(o, path, depth + 1));
  if (def.type === 'intersection')
    return [def.left, def.right].flatMap((s) => (s ? objectsAt(s, path, depth + 1) : []));
  if (path.length === 0) return def.type === 'object' ? [def] : [];
  const [head, ...rest] = path;
  if (def.type === 'object') {
    const next = def.shape?.[String(head)];
    return next ? objectsAt(next, rest, depth + 1) : [];
  }
  const next = def.type === 'record' ? def.valueType : def.type === 'array' ? def.element : undefined;
  return next ? objectsAt(next, rest, depth + 1) : [];
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** The accepted key closest to `key` at `path` (the object holding it), if one is close enough. */
export function suggestKey(schema: z.ZodType, path: readonly PropertyKey[], key: string): string | undefined {
  const known = new Set(objectsAt(schema, path).flatMap((d) => Object.keys(d.shape ?? {})));
  const k = key.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const candidate of known) {
    const c = candidate.toLowerCase();
    const d = distance(k, c);
    // A typo (a couple of letters), or a longer/shorter spelling of the same word (key_prefix → prefix).
    const close = d <= Math.max(2, Math.floor(c.length / 4)) || (c.length >= 4 && (k.includes(c) || c.includes(k)));
    if (close && (!best || d < best.d)) best = { key: candidate, d };
  }
  return best?.key;
}
