// Whether a request body names a key twice in one object. LLM request bodies are forwarded as
// received when nothing in them changes (no copy of a 16 MiB prompt per call), but the gateway
// decides on JSON.parse's reading, which keeps the last of duplicate keys, and parsers that keep the
// first exist: `{"model":"denied","model":"allowed"}` would be judged as one model and run as the
// other. Such a body is sent re-serialized instead, so every upstream reads what was judged.
//
// How: JSON.parse keeps one entry per distinct key of an object, so the parsed value has fewer keys
// than the text names (every ':' outside strings, counted by scanBody while it bounds the shape)
// exactly when some object repeats one, in any spelling (`"mod\u0065l"` is `"model"` to every
// parser). A walk over the parsed value, not a second scan of the text.
import { keysIn } from './body-shape.js';
import type { ParsedRequest } from './parse-request.js';

export function namesKeyTwice(parsed: ParsedRequest): boolean {
  return keysIn(parsed.body) !== parsed.textKeys;
}
