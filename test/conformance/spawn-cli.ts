// Runs a conformance CLI once, bounded: all output collected, killed at the deadline.
import { spawn } from 'node:child_process';

export interface CliRun {
  output: string;
  exitCode: number | null;
  timedOut: boolean;
}

export async function runCli(args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      output += `\n[conformance] spawn error: ${err.message}\n`;
      resolve(null);
    });
    child.once('close', (code) => resolve(code));
  });
  clearTimeout(timer);
  return { output, exitCode, timedOut };
}
