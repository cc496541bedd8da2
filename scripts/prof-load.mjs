// Reads a V8 .cpuprofile for the prof-* scripts. PROF_SKIP=0.5 drops the first half of the busy
// samples (start-up, JIT warm-up): steady state only.
import { readFileSync } from 'node:fs';

export function loadProfile(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const skip = Number(process.env.PROF_SKIP ?? 0);
  if (skip > 0) {
    const idleIds = new Set(prof.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
    const busyTotal = prof.samples.reduce((a, s, i) => a + (idleIds.has(s) ? 0 : (prof.timeDeltas[i] ?? 0)), 0);
    let acc = 0;
    let cut = 0;
    while (cut < prof.samples.length && acc < skip * busyTotal) {
      if (!idleIds.has(prof.samples[cut])) acc += prof.timeDeltas[cut] ?? 0;
      cut++;
    }
    prof.samples = prof.samples.slice(cut);
    prof.timeDeltas = prof.timeDeltas.slice(cut);
  }
  return prof;
}
