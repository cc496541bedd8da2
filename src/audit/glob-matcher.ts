// Glob matching for the audit filters (`*` any run, `?` any one character) in time linear in name × pattern, without a RegExp; separate so query-filter.ts keeps to what a query selects.

/** Whether `seg` (with `?` for any one character) matches `s` at `i`; the caller keeps it inside `s`. */
function segmentAt(s: string, i: number, seg: string): boolean {
  for (let k = 0; k < seg.length; k++) if (seg[k] !== '?' && seg[k] !== s[i + k]) return false;
  return true;
}

/** The leftmost place from `from` where `seg` matches and ends by `end`, or -1. */
function findSegment(s: string, seg: string, from: number, end: number): number {
  if (!seg.includes('?')) {
    const k = s.indexOf(seg, from);
    return k >= 0 && k + seg.length <= end ? k : -1;
  }
  for (let k = from; k + seg.length <= end; k++) if (segmentAt(s, k, seg)) return k;
  return -1;
}

/**
 * A glob (`*` any run, `?` any one character) as a matcher. Not a RegExp: the names it is tested
 * against are written by agents (an unknown tool's name, quoted up to 2048 characters: mcp/quoted-name.ts), and
 * a backtracking `^.*github.*delete.*$` over 240 000 characters of `github…` took 19 s on the event
 * loop, the live tail's filter included. Here the parts between stars are found leftmost in turn
 * (enough for a glob), each at most once over the name: time grows with the name times the pattern.
 */
export function globMatcher(glob: string): { test(s: string): boolean } {
  const parts = glob.split('*');
  const first = parts[0] as string;
  if (parts.length === 1) return { test: (s) => s.length === glob.length && segmentAt(s, 0, glob) };
  const last = parts.at(-1) as string;
  const middle = parts.slice(1, -1).filter((p) => p !== '');
  return {
    test(s) {
      if (s.length < first.length + last.length) return false;
      const end = s.length - last.length;
      if (!segmentAt(s, 0, first) || !segmentAt(s, end, last)) return false;
      let i = first.length;
      for (const seg of middle) {
        const k = findSegment(s, seg, i, end);
        if (k < 0) return false;
        i = k + seg.length;
      }
      return true;
    },
  };
}
