// Spawns a fixture server process that prints `LISTENING <port>`, and kills it after the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Spawned {
  port: number;
  child: ChildProcess;
  kill(): Promise<void>;
}

export const TSX_NODE = ['--import', 'tsx'];

export function spawnListening(args: string[], env: Record<string, string> = {}): Promise<Spawned> {
  const child = spawn(process.execPath, args[0]?.endsWith('.mjs') ? args : [...TSX_NODE, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
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
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}
