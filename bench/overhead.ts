// The gateway's own view of what it adds: the p50 of tollgate_tool_call_duration_seconds{part=
// "overhead"} (total − upstream per tools/call), read from /metrics after the load.
const BUCKET = /^tollgate_tool_call_duration_seconds_bucket\{([^}]*)\} (\S+)$/;

/** p50 in ms by linear interpolation within the histogram's buckets; undefined without data. */
export function overheadP50FromMetrics(text: string): number | undefined {
  const buckets: { le: number; count: number }[] = [];
  for (const line of text.split('\n')) {
    const m = BUCKET.exec(line);
    if (!m?.[1]?.includes('part="overhead"')) continue;
    const le = /le="([^"]+)"/.exec(m[1])?.[1];
    buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: Number(m[2]) });
  }
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= total / 2) {
      const upper = Number.isFinite(b.le) ? b.le : prevLe;
      const share = b.count === prevCount ? 0 : (total / 2 - prevCount) / (b.count - prevCount);
      return (prevLe + (upper - prevLe) * share) * 1000;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return undefined;
}
