// Runs `tollgate serve` (the run's compiled copy, see compiled.ts) until its start banner is complete
// and keeps what it printed: for tests that read the banner, and for tests that then signal the
// process and watch it stop. The banner comes once the upstreams are started and their catalogs
// settled, so the stdio children are up by then.
import { spawn, type ChildProcess } from 'node:child_process';
import { nodeArgs } from './compiled.js';

export interface Served {
  /** What serve printed on stdout until the banner was complete (log lines before it included). */
  out: string;
  /** http://host:port it listens on. */
  url: string;
  child: ChildProcess;
  /** SIGKILL (when still running); resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * `tollgate serve --port 0 ARGS…` with OPENAI_API_KEY and ANTHROPIC_API_KEY emptied (a developer's own
 * keys would change the banner) and `env` on top.
 */
export async function serveUntilBanner(
  args: string[],
  env: Record<string, string | undefined>,
  /** Also wait for this in the output (log lines may come after the banner). */
  until = /(?:)/,
): Promise<Served> {
  const child = spawn(process.execPath, [...nodeArgs('bin/tollgate.mjs'), 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', ...env },
  });
  const stop = () =>
    new Promise<void>((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Try it:\n(.*\n)*\n/.test(out) && until.test(out)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const url = /listening on (http:\/\/[^\s/]+)/.exec(out)?.[1] ?? '';
  return { out, url, child, stop };
}
