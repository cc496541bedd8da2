// Signs of prompt injection in a tool definition (tool poisoning): instructions aimed at the model
// rather than describing the tool, and characters a human reviewer cannot see. A hint for the
// operator who approves a definition, not a filter: false positives and misses are both possible.
import type { JsonValue } from './canonical.js';

export interface InjectionMarker {
  /** What was found, for people. */
  kind: string;
  /** Where in the definition, e.g. `description` or `inputSchema.properties.path.description`. */
  path: string;
  /** The matched text, invisible characters shown as \u{…}. */
  excerpt: string;
}

const PATTERNS: readonly { kind: string; re: RegExp }[] = [
  {
    kind: 'instruction override',
    re: /\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?(?:previous|prior|above|earlier|other)\s+(?:instructions?|prompts?|messages?|rules?|directions?)/i,
  },
  {
    kind: 'secrecy towards the user',
    re: /\b(?:do\s+not|don't|never)\s+(?:tell|inform|mention|reveal|show|alert|notify)\b[^.\n]{0,40}\buser/i,
  },
  {
    kind: 'instruction tag',
    re: /<\s*\/?\s*(?:important|system|instructions?|secret|hidden|admin|critical|prompt)\b[^>]*>/i,
  },
  { kind: 'role hijack', re: /\b(?:you\s+are\s+now|new\s+instructions?\s*:|system\s+prompt\s*:)/i },
  { kind: 'zero-width character', re: /[\u200B-\u200D\u2060-\u2064\uFEFF\u180E]/u },
  { kind: 'bidirectional control character', re: /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u },
  { kind: 'Unicode tag character (invisible text)', re: /[\u{E0000}-\u{E007F}]/u },
];

const visible = (s: string): string =>
  s.replace(
    /[\u200B-\u200F\u2060-\u2064\uFEFF\u180E\u202A-\u202E\u2066-\u2069\u061C\u{E0000}-\u{E007F}]/gu,
    (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`,
  );

function excerpt(text: string, at: number, length: number): string {
  const from = Math.max(0, at - 20);
  const to = Math.min(text.length, at + length + 20);
  return `${from > 0 ? '…' : ''}${visible(text.slice(from, to))}${to < text.length ? '…' : ''}`;
}

/** Every marker in every string of the definition (keys included: a property name can carry text). */
export function injectionMarkers(definition: Readonly<Record<string, JsonValue>>): InjectionMarker[] {
  const found: InjectionMarker[] = [];
  const scan = (text: string, path: string) => {
    for (const { kind, re } of PATTERNS) {
      const m = re.exec(text);
      if (m) found.push({ kind, path, excerpt: excerpt(text, m.index, m[0].length) });
    }
  };
  const walk = (v: JsonValue, path: string, depth: number) => {
    if (depth > 64) return;
    if (typeof v === 'string') scan(v, path);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, depth + 1));
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        scan(k, `${p} (key)`);
        walk(x, p, depth + 1);
      }
    }
  };
  walk(definition as JsonValue, '', 0);
  return found;
}
