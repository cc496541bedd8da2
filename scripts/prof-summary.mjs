// Summarises a V8 .cpuprofile (node --cpu-prof): self time by category and the top frames.
//   node scripts/prof-summary.mjs <file.cpuprofile> [top=30] [filter]
// Categories: our code (.bench-build/ or src/), node_modules (by package), Node internals, GC, idle, program (native).
import { loadProfile } from './prof-load.mjs';

const [file, topArg, filter] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node scripts/prof-summary.mjs <file.cpuprofile> [top] [filter]\n');
  process.exit(2);
}
const prof = loadProfile(file);
const top = Number(topArg ?? 30);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dts = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++)
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dts[i] ?? 0));
const cat = (n) => {
  const u = n.callFrame.url;
  const f = n.callFrame.functionName;
  if (f === '(garbage collector)') return 'GC';
  if (f === '(idle)') return 'idle';
  if (f === '(program)') return 'program (native)';
  if (u.includes('/node_modules/'))
    return `pkg ${u
      .split('/node_modules/')
      .pop()
      .split('/')
      .slice(0, u.includes('/node_modules/@') ? 2 : 1)
      .join('/')}`;
  if (/\/\.bench-[^/]+\/|\/src\//.test(u)) return 'ours';
  if (u.startsWith('node:')) return 'node internals';
  return u ? 'other js' : 'native/builtin';
};
const cats = new Map();
const frames = new Map();
let total = 0;
let busy = 0;
for (const [id, t] of self) {
  const n = byId.get(id);
  total += t;
  const c = cat(n);
  if (c !== 'idle') busy += t;
  cats.set(c, (cats.get(c) ?? 0) + t);
  const u = n.callFrame.url.replace(/^.*\/(\.bench-[^/]+|src|node_modules)\//, '$1/').replace(/^file:\/\//, '');
  const k = `${n.callFrame.functionName || '(anon)'} ${u}:${n.callFrame.lineNumber + 1}`;
  if (filter && !k.includes(filter)) continue;
  frames.set(k, (frames.get(k) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / busy).toFixed(1)}%`.padStart(6);
console.log(`busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled`);
for (const [c, t] of [...cats].sort((a, b) => b[1] - a[1]).slice(0, 16))
  if (c !== 'idle') console.log(`${pct(t)}  ${c}`);
console.log('--- top frames (self, % of busy)');
for (const [k, t] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
