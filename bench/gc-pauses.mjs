// Preloaded into a bench process (`node --import ./bench/gc-pauses.mjs …`, bench/ab.mjs TAIL=1): records
// each GC pause as [start in ms since the epoch, duration ms, kind] and writes them at exit to
// $GC_PAUSES_DIR/gc-<pid>.json, so that slow calls seen by the client can be matched against them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const dir = process.env.GC_PAUSES_DIR;
if (dir) {
  const pauses = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push([performance.timeOrigin + e.startTime, e.duration, e.detail?.kind]);
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => writeFileSync(join(dir, `gc-${process.pid}.json`), JSON.stringify(pauses)));
}
