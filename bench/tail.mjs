// What makes the latency tail (bench/ab.mjs TAIL=1): of each target's calls, the share slower than a
// few thresholds, and how many of its slowest 1% overlapped one of the process's own GC pauses
// (bench/gc-pauses.mjs). Session 12 found with it that at one connection the calls over 3 ms are as
// many through the minimal relay as through the gateway (the host's), and that GC pauses explain few.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const THRESHOLDS_MS = [1, 2, 3, 5];

/** calls: [start ms since the epoch, latency ms][]; prints one line per target. */
export function printTail(name, calls, pid, gcDir) {
  const file = join(gcDir, `gc-${pid}.json`);
  const pauses = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
  const sorted = [...calls].sort((a, b) => a[1] - b[1]);
  const slowest = sorted.slice(Math.floor(sorted.length * 0.99));
  const overlaps = (c) => pauses.some(([start, ms]) => start < c[0] + c[1] && start + ms > c[0]);
  const from = calls.reduce((a, c) => Math.min(a, c[0]), Infinity);
  const during = pauses.filter(([start]) => start >= from);
  const shares = THRESHOLDS_MS.map(
    (t) => `>${t} ms ${((100 * calls.filter((c) => c[1] > t).length) / calls.length).toFixed(2)}%`,
  );
  const meanPause = during.reduce((a, p) => a + p[1], 0) / (during.length || 1);
  console.log(
    `${name.padEnd(8)} tail: ${shares.join(', ')}; slowest 1% (≥ ${slowest[0]?.[1].toFixed(2)} ms): ` +
      `${slowest.filter(overlaps).length} of ${slowest.length} during a GC pause; ` +
      `${during.length} pauses while measured, mean ${meanPause.toFixed(2)} ms`,
  );
}
