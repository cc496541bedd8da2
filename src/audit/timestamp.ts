// Audit timestamps: one per record, on every call (MCP and LLM).

// toISOString's text up to the seconds' dot, for the last second seen: calls in one second share
// it (a Date and its formatting per record were ~1.4 µs a call, measured).
let isoSecond = Number.NaN;
let isoPrefix = '';

/** `new Date(msEpoch).toISOString()`, with the part up to the second made once per second. */
export function isoTimestamp(msEpoch: number): string {
  if (!Number.isSafeInteger(msEpoch)) return new Date(msEpoch).toISOString();
  const r = ((msEpoch % 1000) + 1000) % 1000;
  const second = msEpoch - r;
  if (second !== isoSecond) {
    isoPrefix = new Date(second).toISOString().slice(0, -4); // "…T12:34:56."
    isoSecond = second;
  }
  return `${isoPrefix}${r < 10 ? '00' : r < 100 ? '0' : ''}${r}Z`;
}
