// A tool definition's fingerprint: SHA-256 over a canonical JSON of the parts an agent's model
// reads (name, title, description, schemas, annotations). Canonical = RFC 8785 (JCS) for JSON
// values: object keys sorted by UTF-16 code units, no whitespace, ECMAScript number and string
// forms; so key order or spacing changes in an upstream's answer never look like a new definition.
import { createHash } from 'node:crypto';

/** The fields that are pinned; anything else in a tool entry (e.g. `_meta`) may change freely. */
export const PINNED_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no form for non-finite numbers');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const parts: string[] = [];
    // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
    for (const k of Object.keys(obj).sort()) {
      const v = obj[k];
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  throw new TypeError(`canonical JSON has no form for ${typeof value}`);
}

/** The pinned part of a tool entry as an upstream listed it (fields it left out stay out). */
export function toolDefinition(entry: Readonly<Record<string, unknown>>): Record<string, JsonValue> {
  const out: [string, JsonValue][] = [];
  for (const k of PINNED_FIELDS) if (entry[k] !== undefined) out.push([k, entry[k] as JsonValue]);
  return Object.fromEntries(out);
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The fingerprint of a tool definition (or of a tool entry: only the pinned fields count). */
export const definitionHash = (entry: Readonly<Record<string, unknown>>): string =>
  sha256Hex(canonicalJson(toolDefinition(entry)));
