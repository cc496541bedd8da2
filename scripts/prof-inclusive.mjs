// Inclusive (self + callees) time of our own functions in a V8 .cpuprofile, % of busy time.
//   node scripts/prof-inclusive.mjs <file.cpuprofile> [top=40] [pattern=.bench-build|/src/]
import { loadProfile } from './prof-load.mjs';

const [file, topArg, pat] = process.argv.slice(2);
const prof = loadProfile(file);
const re = new RegExp(pat ?? '\\.bench-[^/]+/|/src/');
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const key = (n) =>
  `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(\.bench-[^/]+|src|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
const incl = new Map();
let busy = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i] ?? 0;
  let n = byId.get(prof.samples[i]);
  if (n.callFrame.functionName === '(idle)') continue;
  busy += dt;
  const seen = new Set();
  for (let id = n.id; id !== undefined; id = parent.get(id)) {
    n = byId.get(id);
    if (!re.test(n.callFrame.url)) continue;
    const k = key(n);
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + dt);
  }
}
for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 40)))
  console.log(`${((100 * t) / busy).toFixed(1).padStart(5)}%  ${k}`);
