// What the A/B benches (bench/ab.mjs, bench/llm-ab.mjs) share: starting a process and waiting for
// the line that says it is ready, and reading a process's CPU time from /proc (Linux only).
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';

/**
 * Starts `node args…`, kept in `procs` (the caller kills them), and resolves with the process and the
 * first group of `ready` once its output matches; rejects if it exits first. `log`: a file its stdout
 * goes to as well.
 */
export function startReady(procs, args, ready, { env = {}, log } = {}) {
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  procs.push(p);
  if (log) p.stdout.on('data', (d) => appendFileSync(log, d));
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d) => {
      if (out.length > 100_000) return; // ready long ago: only the log wants the rest
      out += d;
      const m = out.match(ready);
      if (m) resolve({ proc: p, ready: m[1] });
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${out.slice(-400)}`)));
  });
}

/** User and system CPU of a process so far, in µs (/proc ticks are 10 ms). */
export function cpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(f[11]) * 10_000, sys: Number(f[12]) * 10_000 };
}
