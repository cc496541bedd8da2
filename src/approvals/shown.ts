// What an approval shows of the call to whoever decides (admin page, API, webhook): kept small,
// because it is held for every pending approval (in memory, or in Redis where each instance reads
// the whole set every heartbeat) and listed again every two seconds by each open admin page. The
// approval stays bound to the full arguments (their SHA-256); only the view is cut.
import type { AuditJson } from '../audit/record.js';

/** The arguments, as compact JSON, past which an approval shows only their start. */
export const MAX_SHOWN_ARGS_CHARS = 16 * 1024;
/** The upstream's tool description (its own text, untrusted), past which it is cut. */
export const MAX_SHOWN_DESCRIPTION_CHARS = 2000;

/** No half of a surrogate pair at the cut. */
function cut(s: string, max: number): string {
  const head = s.slice(0, max);
  const last = head.charCodeAt(head.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? head.slice(0, -1) : head;
}

/**
 * The (already redacted) arguments, or, when their JSON is longer than the bound, the redactor's
 * own shape for a cut value: `{"__truncated": true, "length": <characters>, "head": "<start>"}`.
 */
export function shownArgs(args: AuditJson): AuditJson {
  const text = JSON.stringify(args) ?? 'null';
  if (text.length <= MAX_SHOWN_ARGS_CHARS) return args;
  return { __truncated: true, length: text.length, head: cut(text, MAX_SHOWN_ARGS_CHARS) };
}

export function shownDescription(d: string | null): string | null {
  return d === null || d.length <= MAX_SHOWN_DESCRIPTION_CHARS ? d : `${cut(d, MAX_SHOWN_DESCRIPTION_CHARS - 1)}…`;
}
