// A loaded host on demand: a child process that keeps one core busy (a bounded busy loop), so a test
// can show that its guarantee holds while another process competes for the CPU.
import { spawn } from 'node:child_process';

export interface CpuBurner {
  stop(): Promise<void>;
}

/** Busy-loops one core for at most `maxMs` (it ends by itself even if the test dies); stop() kills it. */
export function burnCpu(maxMs = 120_000): CpuBurner {
  const child = spawn(process.execPath, ['-e', `const end = Date.now() + ${maxMs}; while (Date.now() < end);`], {
    stdio: 'ignore',
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
