/**
 * stdio upstream benchmark (part of `npm run bench`): the common MCP case, a server run as a child
 * process. Two rows on the same server (bench/stdio-server.mjs, v1 SDK, tool `echo`):
 *   - direct: an SDK client that spawns the server itself and calls it over stdio, 32 calls in flight;
 *   - Tollgate: the compiled gateway (.bench-build/, built by bench/run.ts) with that server as a
 *     stdio upstream and every step on (API key, policy with a CEL constraint, limits, audit,
 *     metrics), driven over HTTP by autocannon (32 connections).
 * Prints calls/s, latency, and CPU µs per call of each process (the gateway alone, not its child).
 * Env: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (32).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import autocannon from 'autocannon';
import { compileGateway } from './build.js';
import { YOUNG_GENERATION_FLAG } from '../src/cli/gc-tuning.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const num = (name: string, d: number): number => (process.env[name] ? Number(process.env[name]) : d);
const SECONDS = num('BENCH_SECONDS', 10);
// JIT warm-up of the gateway and of a freshly started server: stdio calls are slower, so longer than HTTP's.
const WARMUP = Math.max(num('BENCH_WARMUP_SECONDS', 2), 5);
const CONNECTIONS = num('BENCH_CONNECTIONS', 32);
const KEY = 'bench-key-123456';
const TEXT = 'hello from the tollgate bench';
const SERVER = ['bench/stdio-server.mjs'];

/** CPU seconds (user + system) of one process (Linux /proc; NaN elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The first child process of `pid` (the gateway's stdio server). */
function childOf(pid: number): number | undefined {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) return Number(e);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

interface Row {
  target: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpuUs: Record<string, number>;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function direct(): Promise<Row> {
  const transport = new StdioClientTransport({ command: process.execPath, args: SERVER, cwd: ROOT, stderr: 'inherit' });
  const client = new Client({ name: 'tollgate-bench', version: '1.0.0' });
  await client.connect(transport);
  const serverPid = transport.pid ?? undefined;
  const run = async (seconds: number, lat: number[] | undefined): Promise<{ calls: number; errors: number }> => {
    let calls = 0;
    let errors = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < end) {
          const a = performance.now();
          try {
            const r = await client.callTool({ name: 'echo', arguments: { text: TEXT } });
            if ((r.content as { text?: string }[])[0]?.text !== TEXT) errors++;
            else calls++;
          } catch {
            errors++;
          }
          lat?.push(performance.now() - a);
        }
      }),
    );
    return { calls, errors };
  };
  await run(WARMUP, undefined);
  const lat: number[] = [];
  const s0 = cpuSeconds(serverPid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { calls, errors } = await run(SECONDS, lat);
  const wall = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const row: Row = {
    target: 'direct (SDK client ↔ stdio server)',
    rps: calls / wall,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    errors,
    cpuUs: {
      server: ((cpuSeconds(serverPid) - s0) * 1e6) / Math.max(1, calls),
      client: (c1.user + c1.system) / Math.max(1, calls),
    },
  };
  await client.close();
  return row;
}

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

async function throughGateway(dir: string): Promise<Row> {
  compileGateway(ROOT, { ifMissing: true });
  mkdirSync(join(dir, 'policies'));
  writeFileSync(
    join(dir, 'policies', 'bench.yaml'),
    `agent: bench\ntools:\n  allow: ["bench__*"]\n  deny: ["bench__admin_*"]\nconstraints:\n  - tool: bench__echo\n    when: 'size(args.text) < 1000'\n` +
      `limits:\n  requests: [{ limit: 1000000000, per: 1m }]\n  tools: [{ tool: "bench__*", requests: [{ limit: 1000000000, per: 1h }] }]\n`,
  );
  const cfg = join(dir, 'tollgate.yaml');
  writeFileSync(
    cfg,
    `server: { host: 127.0.0.1, port: 0 }
log: { level: warn }
upstreams:
  bench:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: ${JSON.stringify(SERVER)}
    cwd: ${JSON.stringify(ROOT)}
auth:
  api_keys:
    - { agent: bench, key: ${KEY} }
policies: { dir: policies }
`,
  );
  const gw: ChildProcess = spawn(
    process.execPath,
    [YOUNG_GENERATION_FLAG, '.bench-build/main.js', 'serve', '--config', cfg, '--port', '0'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    const origin = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`gateway not ready: ${out.slice(-500)}`)), 60_000);
      const on = (d: Buffer): void => {
        out += d.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\/mcp/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      gw.stdout!.on('data', on);
      gw.stderr!.on('data', on);
      gw.once('exit', (code) => reject(new Error(`gateway exited (${code}): ${out.slice(-500)}`)));
    });
    // Ready once the stdio server answered its handshake (slow to start on a loaded host).
    for (const end = Date.now() + 120_000; ; ) {
      const r = await fetch(`${origin}/readyz`);
      if (r.ok) break;
      if (Date.now() > end) throw new Error(`gateway not ready: ${await r.text()}`);
      await new Promise((done) => setTimeout(done, 200));
    }
    const url = `${origin}/mcp`;
    const base = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${KEY}`,
    };
    const init = await post(url, base, {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'tollgate-bench', version: '1' } },
    });
    await init.text();
    const headers = {
      ...base,
      'mcp-session-id': init.headers.get('mcp-session-id') ?? '',
      'mcp-protocol-version': '2025-11-25',
    };
    await (await post(url, headers, { jsonrpc: '2.0', method: 'notifications/initialized' })).text();
    let id = 10;
    let bad = 0;
    const load = (seconds: number) =>
      autocannon({
        url,
        connections: CONNECTIONS,
        duration: seconds,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: '/mcp',
            headers,
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({
                jsonrpc: '2.0',
                id: ++id,
                method: 'tools/call',
                params: { name: 'bench__echo', arguments: { text: TEXT } },
              }),
            }),
            onResponse: (status, body) => void ((status !== 200 || !body.includes(TEXT)) && bad++),
          },
        ],
      });
    await load(WARMUP);
    bad = 0;
    const serverPid = childOf(gw.pid!);
    const g0 = cpuSeconds(gw.pid);
    const s0 = cpuSeconds(serverPid);
    const r = await load(SECONDS);
    const n = Math.max(1, r.requests.total);
    return {
      target: 'Tollgate (HTTP → stdio upstream)',
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      errors: bad + r.errors + r.timeouts,
      cpuUs: {
        gateway: ((cpuSeconds(gw.pid) - g0) * 1e6) / n,
        server: ((cpuSeconds(serverPid) - s0) * 1e6) / n,
      },
    };
  } finally {
    gw.kill('SIGTERM');
    await new Promise((r) => (gw.exitCode !== null ? r(undefined) : gw.once('exit', r)));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-stdio-bench-'));
  try {
    const rows = [await direct(), await throughGateway(dir)];
    const base = rows[0]!.rps;
    console.log(`\nstdio upstream, ${CONNECTIONS} calls in flight, ${SECONDS}s per target (node ${process.version})`);
    for (const r of rows) {
      const cpu = Object.entries(r.cpuUs)
        .map(([k, v]) => `${k} ${Number.isFinite(v) ? v.toFixed(0) : '—'}`)
        .join(', ');
      console.log(
        `${r.target.padEnd(36)} ${r.rps.toFixed(0).padStart(6)} calls/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  errors ${r.errors}  ${(r.rps / base).toFixed(2)}× direct  CPU µs/call: ${cpu}`,
      );
    }
    console.log(`BENCH_JSON ${JSON.stringify({ stdio: rows })}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
