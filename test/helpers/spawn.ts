// Spawns a fixture server process that prints `LISTENING <port>`, and kills it after the test.
// args[0] is a path in the repo (a test/fixtures/*.ts, src/main.ts, bin/tollgate.mjs): it runs from the
// run's compiled copy when there is one (see compiled.ts), else through tsx.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { nodeArgs } from './compiled.js';

export interface Spawned {
  port: number;
  child: ChildProcess;
  kill(): Promise<void>;
}

/** Node flags that run TypeScript through tsx; prefer nodeArgs(file) from compiled.ts for children. */
export const TSX_NODE = ['--import', 'tsx'];

/** Every process started here that has not exited: killed after each test file (test/setup/each-file.ts). */
const running = new Set<ChildProcess>();

/** SIGKILLs what a test file left running (a test that failed before its own kill): never a leaked gateway. */
export async function killLeftovers(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((r) => {
          if (child.exitCode !== null || child.signalCode !== null) return r();
          child.once('exit', () => r());
          child.kill('SIGKILL');
        }),
    ),
  );
}

export function spawnListening(args: string[], env: Record<string, string> = {}): Promise<Spawned> {
  const [file = '', ...rest] = args;
  const child = spawn(process.execPath, [...nodeArgs(file), ...rest], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    // Generous: on a loaded 2-core machine compiling and starting a gateway can take tens of seconds.
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // never leave it running behind a failed test
      reject(new Error(`no LISTENING line from ${args.join(' ')}`));
    }, 90_000);
    lines.on('line', (line) => {
      const m = /LISTENING (\d+)/.exec(line) ?? /listening on http:\/\/[^:]+:(\d+)/i.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        port: Number(m[1]),
        child,
        kill: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null || child.signalCode !== null) return r();
            child.once('exit', () => r());
            child.kill('SIGKILL');
          }),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}`));
    });
  });
}
