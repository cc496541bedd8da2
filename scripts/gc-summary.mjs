// Young-generation GC per process from a `--trace-gc-nvp` log (bench/ab.mjs GATEWAY_LOG): how many
// scavenges, what each promoted to the old generation and how long it paused. Promotion is the
// figure to watch: a finished request's objects should die young (docs/benchmark-history.md, session 7).
//
//   node scripts/gc-summary.mjs gc.log [skip fraction, default 0.3: the warm-up's scavenges]
import { readFileSync } from 'node:fs';

const [file, skipArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node scripts/gc-summary.mjs <trace-gc-nvp log> [skip fraction]\n');
  process.exit(2);
}
const skip = Number(skipArg ?? 0.3);
const field = (line, name) => Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
const byPid = new Map();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const m = /^\[(\d+):/.exec(line);
  if (!m || !line.includes(' gc=')) continue;
  const p = byPid.get(m[1]) ?? { scavenges: [], full: 0 };
  if (line.includes(' gc=s ')) p.scavenges.push(line);
  else p.full++;
  byPid.set(m[1], p);
}
for (const [pid, p] of byPid) {
  const s = p.scavenges.slice(Math.floor(p.scavenges.length * skip));
  const avg = (name) => s.reduce((sum, l) => sum + field(l, name), 0) / Math.max(s.length, 1);
  console.log(
    `pid ${pid}: ${s.length} scavenges counted, ${p.full} full GCs; per scavenge: allocated ${(avg('allocated') / 1024).toFixed(0)} KB, ` +
      `promoted ${(avg('promoted') / 1024).toFixed(0)} KB, survived ${(avg('new_space_survived') / 1024).toFixed(0)} KB, pause ${avg('pause').toFixed(2)} ms`,
  );
}
