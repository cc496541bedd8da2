/**
 * LLM proxy benchmark: `node --import tsx bench/llm.ts`.
 *
 * Starts, as child processes on 127.0.0.1: the mock OpenAI upstream (test/fixtures/mock-llm.ts),
 * Tollgate's LLM routes in front of it (bench/llm-gateway.mjs on the compiled build: API-key auth, a
 * token budget on a MemoryStore, a real audit log in a temp file), and @portkey-ai/gateway in front of the same mock, if it is installed. Each
 * target gets chat completions, JSON and streaming, from autocannon (32 connections); the table
 * shows rps / p50 / p99 and ratios. Env: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (32),
 * BENCH_MODES (json,stream), BENCH_TARGETS (direct,tollgate,portkey),
 * BENCH_GATEWAY_NODE_ARGS (extra node flags for the Tollgate child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { compileGateway } from './build.js';
import { YOUNG_GENERATION_FLAG } from '../src/cli/gc-tuning.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const num = (name: string, d: number): number => (process.env[name] ? Number(process.env[name]) : d);
const SECONDS = num('BENCH_SECONDS', 10);
const WARMUP = num('BENCH_WARMUP_SECONDS', 2);
const CONNECTIONS = num('BENCH_CONNECTIONS', 32);
const KEY = 'tg_bench-llm-key-0123456789';
const PORTKEY = join(ROOT, 'node_modules/@portkey-ai/gateway/build/start-server.js');

// ─────────────── harness ───────────────

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function start(
  name: string,
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
): Promise<{ proc: ChildProcess; match: RegExpMatchArray }> {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} not ready: ${out.slice(-500)}`)), 30_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, match: m });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${out.slice(-500)}`)));
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** The process whose CPU time is this target's. */
  pid: number | undefined;
}
interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time of the target's process per completed request (µs); NaN when unknown. */
  cpuUs: number;
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; NaN elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return NaN;
  }
}

const chatBody = (stream: boolean): string =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'Say hello to the benchmark in one short sentence.' }],
    ...(stream ? { stream: true } : {}),
  });

async function check(t: Target, stream: boolean): Promise<void> {
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: t.headers,
    body: chatBody(stream),
  });
  const text = await res.text();
  const ok =
    res.status === 200 && (stream ? text.includes('data: [DONE]') && text.includes('Hello') : text.includes('"usage"'));
  if (!ok) throw new Error(`${t.name} (${stream ? 'stream' : 'json'}): ${res.status} ${text.slice(0, 300)}`);
}

async function load(t: Target, stream: boolean, seconds: number): Promise<Result> {
  let bad = 0;
  const cpu0 = cpuSeconds(t.pid);
  const r = await autocannon({
    url: `${t.url}/v1/chat/completions`,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: t.headers,
        body: chatBody(stream),
        onResponse: (status) => void (status !== 200 && bad++),
      },
    ],
  });
  const cpuUs = ((cpuSeconds(t.pid) - cpu0) * 1e6) / Math.max(1, r.requests.total);
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: bad + r.errors + r.timeouts,
    cpuUs,
  };
}

async function main(): Promise<void> {
  // The Tollgate child runs the compiled build (bench/llm-gateway.mjs), as bench/run.ts's does.
  compileGateway(ROOT);
  const mock = await start('mock', ['--import', 'tsx', 'test/fixtures/mock-llm.ts'], /MOCK_LLM_URL (\S+)/);
  const mockUrl = mock.match[1]!;
  const extra = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const gw = await start(
    'tollgate',
    [YOUNG_GENERATION_FLAG, ...extra, 'bench/llm-gateway.mjs', mockUrl, KEY],
    /GATEWAY_URL (\S+)/,
  );
  const json = { 'content-type': 'application/json' };
  const targets: Target[] = [
    { name: 'direct', url: mockUrl, headers: { ...json, authorization: 'Bearer sk-mock' }, pid: mock.proc.pid },
    { name: 'tollgate', url: gw.match[1]!, headers: { ...json, authorization: `Bearer ${KEY}` }, pid: gw.proc.pid },
  ];
  let portkeyNote = '';
  if (existsSync(PORTKEY)) {
    try {
      const port = await freePort();
      const pk = await start('portkey', [PORTKEY, `--port=${port}`, '--headless'], /Ready for connections/, {
        NODE_ENV: 'production',
      });
      targets.push({
        name: 'portkey',
        url: `http://127.0.0.1:${port}`,
        pid: pk.proc.pid,
        headers: {
          ...json,
          authorization: 'Bearer sk-mock',
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${mockUrl}/v1`,
        },
      });
    } catch (err) {
      portkeyNote = `portkey did not start: ${(err as Error).message.split('\n')[0]}`;
    }
  } else portkeyNote = '@portkey-ai/gateway not installed';

  const rows: { target: string; mode: string; r: Result; failed?: string }[] = [];
  const notes: string[] = portkeyNote ? [portkeyNote] : [];
  const modes = (process.env.BENCH_MODES ?? 'json,stream').split(',');
  const only = process.env.BENCH_TARGETS?.split(',');
  for (const stream of [false, true]) {
    const mode = stream ? 'stream' : 'json';
    if (!modes.includes(mode)) continue;
    const live: Target[] = [];
    for (const t of targets) {
      if (only && !only.includes(t.name)) continue;
      try {
        await check(t, stream);
        await load(t, stream, WARMUP);
        live.push(t);
      } catch (err) {
        // Tried every run (Portkey's streaming answers 500 here): the table says so in its row.
        const msg = (err as Error).message;
        const status = / (\d{3}) /.exec(msg)?.[1];
        rows.push({
          target: t.name,
          mode,
          r: { rps: NaN, p50: NaN, p99: NaN, errors: NaN, cpuUs: NaN },
          failed: status ? `fails (HTTP ${status})` : 'fails',
        });
        notes.push(`${t.name} ${mode}: not measured, it failed its check (${msg.slice(0, 200)})`);
      }
    }
    // Alternate targets in two halves so drift (thermal, noisy neighbours) hits all alike.
    const halves = new Map<string, Result[]>();
    for (let i = 0; i < 2; i++)
      for (const t of live) halves.set(t.name, [...(halves.get(t.name) ?? []), await load(t, stream, SECONDS / 2)]);
    for (const t of live) {
      const [a, b] = halves.get(t.name)!;
      rows.push({
        target: t.name,
        mode,
        r: {
          rps: (a!.rps + b!.rps) / 2,
          p50: (a!.p50 + b!.p50) / 2,
          p99: Math.max(a!.p99, b!.p99),
          errors: a!.errors + b!.errors,
          cpuUs: (a!.cpuUs + b!.cpuUs) / 2,
        },
      });
    }
  }

  const pad = (s: string | number, n: number): string => String(s).padStart(n);
  console.log(
    `\nLLM chat completions, ${CONNECTIONS} connections, ${SECONDS}s per target and mode (node ${process.version})`,
  );
  console.log(
    `${'mode'.padEnd(7)}${'target'.padEnd(10)}${pad('rps', 9)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('errors', 8)}${pad('CPU µs/call', 13)}${pad('vs direct', 11)}${pad('vs portkey', 12)}`,
  );
  rows.sort(
    (a, b) => Number(a.mode === 'stream') - Number(b.mode === 'stream') || Number(!!a.failed) - Number(!!b.failed),
  );
  for (const row of rows) {
    if (row.failed) {
      console.log(`${row.mode.padEnd(7)}${row.target.padEnd(10)}  ${row.failed} — tried again every run`);
      continue;
    }
    const direct = rows.find((x) => x.mode === row.mode && x.target === 'direct')?.r.rps ?? NaN;
    const pkRow = rows.find((x) => x.mode === row.mode && x.target === 'portkey');
    const pk = pkRow?.failed ? undefined : pkRow?.r.rps;
    console.log(
      `${row.mode.padEnd(7)}${row.target.padEnd(10)}${pad(row.r.rps.toFixed(0), 9)}${pad(row.r.p50.toFixed(1), 9)}${pad(row.r.p99.toFixed(1), 9)}${pad(row.r.errors, 8)}${pad(Number.isFinite(row.r.cpuUs) ? row.r.cpuUs.toFixed(0) : '—', 13)}` +
        `${pad(`${(row.r.rps / direct).toFixed(2)}x`, 11)}${pad(pk ? `${(row.r.rps / pk).toFixed(2)}x` : '-', 12)}`,
    );
  }
  for (const n of notes) console.log(n);
  console.log(`BENCH_JSON ${JSON.stringify(rows)}`);
}

main()
  .then(async () => {
    // SIGTERM first so children exit cleanly (and write --cpu-prof profiles).
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((r) =>
            c.exitCode !== null ? r() : (c.once('exit', () => r()), c.kill('SIGTERM'), setTimeout(r, 3000).unref()),
          ),
      ),
    );
    process.exit(0);
  })
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
