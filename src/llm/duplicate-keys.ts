// Whether a JSON text names a key twice in one object. LLM request bodies are forwarded as received
// when nothing in them changes (no copy of a 16 MiB prompt per call), but the gateway decides on
// JSON.parse's reading, which keeps the last of duplicate keys, and parsers that keep the first
// exist: `{"model":"denied","model":"allowed"}` would be judged as one model and run as the other.
// Such a body is sent re-serialized instead, so every upstream reads what was judged.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * One linear pass over text that JSON.parse has accepted (so it is well-formed and, after the shape
 * check, at most 128 levels deep). Strings are skipped with indexOf; only object keys are read.
 */
export function hasDuplicateKeys(text: string): boolean {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let q = i;
      for (;;) {
        q = text.indexOf('"', q + 1);
        if (q < 0) return false; // not JSON (cannot happen after JSON.parse)
        let b = q - 1;
        while (text.charCodeAt(b) === BACKSLASH) b--;
        if ((q - 1 - b) % 2 === 0) break;
      }
      if (expectKey) {
        const keys = open[open.length - 1] as Set<string>;
        let key = text.slice(i + 1, q);
        // `"mod\u0065l"` is `"model"` to every parser.
        if (key.includes('\\')) key = JSON.parse(text.slice(i, q + 1)) as string;
        if (keys.has(key)) return true;
        keys.add(key);
        expectKey = false;
      }
      i = q;
    } else if (c === 0x7b /* { */) {
      open.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      open.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      open.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = open[open.length - 1] instanceof Set;
    }
  }
  return false;
}
