// Old vs new tool definition as a line diff of their pretty canonical JSON (keys sorted, so only
// real changes show). Longest-common-subsequence on the lines between the common head and tail.
import { canonicalJson } from './canonical.js';
import type { Definition } from './book.js';

export interface DiffLine {
  op: ' ' | '-' | '+';
  text: string;
}

/** Beyond this many cells the middle is shown as removed-then-added rather than aligned. */
const MAX_CELLS = 1_000_000;

export const prettyDefinition = (d: Definition): string => JSON.stringify(JSON.parse(canonicalJson(d)), null, 2);

export function diffLines(before: readonly string[], after: readonly string[]): DiffLine[] {
  let head = 0;
  while (head < before.length && head < after.length && before[head] === after[head]) head++;
  let tail = 0;
  while (
    tail < before.length - head &&
    tail < after.length - head &&
    before[before.length - 1 - tail] === after[after.length - 1 - tail]
  )
    tail++;
  const a = before.slice(head, before.length - tail);
  const b = after.slice(head, after.length - tail);
  const out: DiffLine[] = before.slice(0, head).map((text) => ({ op: ' ', text }));
  if (a.length * b.length > MAX_CELLS) {
    out.push(...a.map((text) => ({ op: '-' as const, text })), ...b.map((text) => ({ op: '+' as const, text })));
  } else {
    // lcs[i][j]: length of the LCS of a[i..] and b[j..], in one flat array.
    const w = b.length + 1;
    const lcs = new Uint32Array((a.length + 1) * w);
    for (let i = a.length - 1; i >= 0; i--) {
      for (let j = b.length - 1; j >= 0; j--) {
        lcs[i * w + j] =
          a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (i < a.length && j < b.length && a[i] === b[j]) {
        out.push({ op: ' ', text: a[i++]! });
        j++;
      } else if (i < a.length && (j === b.length || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) {
        out.push({ op: '-', text: a[i++]! }); // on a tie, removals first: old line above its new form
      } else {
        out.push({ op: '+', text: b[j++]! });
      }
    }
  }
  out.push(...before.slice(before.length - tail).map((text) => ({ op: ' ' as const, text })));
  return out;
}

/** The diff between a pinned definition (when it was stored) and a new one. */
export function definitionDiff(pinned: Definition | undefined, current: Definition): DiffLine[] {
  return diffLines(pinned ? prettyDefinition(pinned).split('\n') : [], prettyDefinition(current).split('\n'));
}
