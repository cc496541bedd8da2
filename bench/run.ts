/**
 * Tollgate throughput/latency benchmark: `npm run bench` (= node --import tsx bench/run.ts).
 *
 * Starts, as child processes on 127.0.0.1:
 *   - bench/upstream-server.ts: an MCP server (v1 SDK, Streamable HTTP, JSON responses) with tool `echo`;
 *   - the gateway (`src/main.ts serve`) in front of it (tool `bench__echo` at /mcp);
 *   - nginx as a plain keep-alive reverse proxy to the upstream, if nginx is on PATH.
 * For each target: opens an MCP session, checks one tools/call, warms up, load-tests tools/call with
 * autocannon (32 connections), then measures sequential 1-connection latency. Prints a table and a
 * `BENCH_JSON {...}` line. Exit code 0 when the run completed (see `valid` in the JSON), 1 when the
 * harness itself could not run (e.g. the upstream would not start).
 *
 * Env: BENCH_SECONDS (10) load duration per target; BENCH_WARMUP_SECONDS (2); BENCH_LAT_SECONDS (6)
 * sequential-latency time per target; BENCH_CONNECTIONS (32); BENCH_ROUNDS (1) alternating load rounds;
 * BENCH_GATEWAY_NODE_ARGS extra node flags for the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 * The gateway and the minimal relay both run with the young-generation size `tollgate serve` is
 * started with (YOUNG_GENERATION_FLAG), so the relay is the same Node, tuned the same way.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, connect, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import { overheadP50FromMetrics } from './overhead.js';
import { measureIdleSessions, type IdleSessionsResult } from './idle-sessions.js';
import autocannon from 'autocannon';
import { compileGateway } from './build.js';
import { YOUNG_GENERATION_FLAG } from '../src/cli/gc-tuning.js';

// ───────────────────────────── settings ─────────────────────────────

function envNum(name: string, dflt: number, allowZero = false): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !allowZero))
    throw new Error(`${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = envNum('BENCH_SECONDS', 10);
const WARMUP_SECONDS = envNum('BENCH_WARMUP_SECONDS', 2);
const LAT_SECONDS = envNum('BENCH_LAT_SECONDS', 6);
const CONNECTIONS = Math.round(envNum('BENCH_CONNECTIONS', 32));
const ROUNDS = Math.round(envNum('BENCH_ROUNDS', 1));
// Sequential latency is measured in one-second slices, alternating between targets: the host's own
// stalls (a few ms, for ~1% of calls through any target on the 2-core machine, bench/tail.mjs) come in
// bursts, and with 3 slices of 3 s a burst could land on one target and move its p99 by 2 ms.
const LAT_SLICES = Math.max(1, Math.round(LAT_SECONDS));
const PROTOCOL_VERSION = '2025-11-25';
const API_KEY = 'bench-key-123456';
const ECHO_TEXT = 'hello from the tollgate bench';
const GOAL_RATIO = 0.8;
const GOAL_ADDED_P50_MS = 0.4;
const GOAL_ADDED_P99_MS = 2;
/** Tollgate's CPU per call over the minimal Node relay's (issue 20). */
const GOAL_CPU_VS_RELAY = 1.5;

// ───────────────────────────── child processes ─────────────────────────────

interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  tail: string[]; // last lines of stdout+stderr
  stderrLines: number;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  exited: Promise<void>;
}

const children: Child[] = [];
let tmpDir: string | undefined;

function startChild(name: string, cmd: string, args: string[], onLine?: (line: string, child: Child) => void): Child {
  // Own process group, so cleanup can signal the child and anything it spawned (nginx workers).
  const proc = spawn(cmd, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, NO_COLOR: '1' },
  });
  if (proc.pid === undefined) throw new Error(`${name}: spawn failed`);
  let resolveExited!: () => void;
  const child: Child = {
    name,
    proc,
    pid: proc.pid,
    tail: [],
    stderrLines: 0,
    exit: undefined,
    exited: new Promise((r) => (resolveExited = r)),
  };
  const feed = (stream: NodeJS.ReadableStream, isErr: boolean) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (isErr) child.stderrLines++;
        child.tail.push(`${isErr ? '[err] ' : ''}${line}`);
        if (child.tail.length > 40) child.tail.shift();
        onLine?.(line, child);
      }
    });
  };
  feed(proc.stdout!, false);
  feed(proc.stderr!, true);
  proc.on('error', (err) => child.tail.push(`[spawn error] ${err.message}`));
  proc.on('exit', (code, signal) => {
    child.exit = { code, signal };
    resolveExited();
  });
  children.push(child);
  return child;
}

/** Resolves with the regex match of the first output line that matches; rejects if the child exits or times out. */
function waitForLine(child: Child, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  for (const l of child.tail) {
    const m = l.match(re);
    if (m) return Promise.resolve(m);
  }
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer | string) => {
      for (const l of child.tail) {
        const m = l.match(re);
        if (m) return done(undefined, m);
      }
      void chunk;
    };
    const timer = setTimeout(() => done(new Error(`${child.name}: not ready after ${timeoutMs} ms`)), timeoutMs);
    const onExit = () =>
      setTimeout(() => done(new Error(`${child.name}: exited before ready (${JSON.stringify(child.exit)})`)), 50);
    function done(err?: Error, m?: RegExpMatchArray) {
      clearTimeout(timer);
      child.proc.stdout?.off('data', onData);
      child.proc.stderr?.off('data', onData);
      child.proc.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    // Listeners added after feed()'s, so `tail` already holds the new line.
    child.proc.stdout?.on('data', onData);
    child.proc.stderr?.on('data', onData);
    child.proc.once('exit', onExit);
  });
}

function signalGroup(c: Child, sig: NodeJS.Signals): void {
  try {
    process.kill(-c.pid, sig);
  } catch {
    try {
      c.proc.kill(sig);
    } catch {
      /* already gone */
    }
  }
}

async function stopAll(): Promise<void> {
  const alive = children.filter((c) => !c.exit);
  for (const c of alive) signalGroup(c, 'SIGTERM');
  await Promise.all(
    alive.map(async (c) => {
      const t = setTimeout(() => signalGroup(c, 'SIGKILL'), 3000);
      await c.exited;
      clearTimeout(t);
      signalGroup(c, 'SIGKILL'); // stragglers in the group (workers), if any
    }),
  );
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = undefined;
}

process.on('exit', () => {
  for (const c of children) if (!c.exit) signalGroup(c, 'SIGKILL');
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});
let stoppingOnSignal = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (stoppingOnSignal) return; // a repeated signal must not cut the cleanup short
    stoppingOnSignal = true;
    process.stderr.write(`\n${sig}: stopping children…\n`);
    void stopAll().finally(() => process.exit(130));
  });
}

// ───────────────────────────── /proc sampling (Linux) ─────────────────────────────

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU seconds (user+system) used so far by every process in process group `pgid`. */
function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return NaN;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] = state (field 3)
      if (Number(f[2]) !== pgid) continue; // field 5: pgrp
      ticks += Number(f[11]) + Number(f[12]); // fields 14, 15: utime, stime
    } catch {
      /* raced with exit */
    }
  }
  return ticks / CLK_TCK;
}

/** Machine-wide busy CPU seconds (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
    return (f.reduce((a, b) => a + b, 0) - idle - (f[8] ?? 0) - (f[9] ?? 0)) / CLK_TCK; // minus guest, guest_nice (already in user)
  } catch {
    return NaN;
  }
}

function rssMb(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

// ───────────────────────────── MCP over HTTP ─────────────────────────────

interface Target {
  name: string;
  origin: string; // http://127.0.0.1:port
  path: string;
  tool: string;
  auth: boolean;
  child: Child; // the process whose CPU is "this target's"
}

interface Session {
  target: Target;
  id: string;
  protocolVersion: string;
  headers: Record<string, string>; // for tools/call
}

class TargetError extends Error {
  constructor(
    readonly stage: string,
    message: string,
    readonly status?: number,
    readonly body?: string,
    readonly responseHeaders?: Record<string, string>,
  ) {
    super(message);
  }
  toJSON() {
    return {
      stage: this.stage,
      message: this.message,
      status: this.status,
      body: this.body,
      headers: this.responseHeaders,
    };
  }
}

interface HttpReply {
  status: number;
  headers: Record<string, string>;
  text: string;
}

async function post(client: Client, path: string, headers: Record<string, string>, body: unknown): Promise<HttpReply> {
  const res = await client.request({
    method: 'POST',
    path,
    headers,
    body: JSON.stringify(body),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await res.body.text();
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers))
    if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return { status: res.statusCode, headers: h, text };
}

/** The JSON-RPC message in a reply: the JSON body, or the last `data:` payload of an SSE body. */
function messageOf(r: HttpReply): { msg: any; sse: boolean } {
  const sse = (r.headers['content-type'] ?? '').includes('text/event-stream');
  if (!sse) {
    try {
      return { msg: JSON.parse(r.text), sse };
    } catch {
      return { msg: undefined, sse };
    }
  }
  let last: any;
  for (const ev of r.text.split(/\r?\n\r?\n/)) {
    const data = ev
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (!data) continue;
    try {
      const m = JSON.parse(data);
      if (m && typeof m === 'object' && ('result' in m || 'error' in m)) last = m;
    } catch {
      /* not JSON */
    }
  }
  return { msg: last, sse };
}

function baseHeaders(t: Target): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (t.auth) h.authorization = `Bearer ${API_KEY}`;
  return h;
}

function callBody(tool: string, id: number | string) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: { text: ECHO_TEXT } } };
}

function fail(stage: string, what: string, r: HttpReply): never {
  throw new TargetError(stage, `${stage}: ${what}`, r.status, r.text.slice(0, 2000), r.headers);
}

/** initialize → notifications/initialized → tools/list → one tools/call, each checked. */
async function openSession(t: Target, warnings: string[]): Promise<Session> {
  const client = new Client(t.origin, { pipelining: 1 });
  try {
    const init = await post(client, t.path, baseHeaders(t), {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'tollgate-bench', version: '1.0.0' },
      },
    });
    if (init.status !== 200) fail('initialize', `HTTP ${init.status}`, init);
    const sid = init.headers['mcp-session-id'];
    if (!sid) fail('initialize', 'no mcp-session-id response header', init);
    const { msg: initMsg, sse: initSse } = messageOf(init);
    if (!initMsg?.result?.protocolVersion) fail('initialize', 'no result.protocolVersion in body', init);
    if (initSse) warnings.push(`${t.name}: initialize answered with SSE, not JSON`);
    if (initMsg.result.protocolVersion !== PROTOCOL_VERSION) {
      warnings.push(`${t.name}: negotiated protocol ${initMsg.result.protocolVersion}, not ${PROTOCOL_VERSION}`);
    }
    const headers = { ...baseHeaders(t), 'mcp-session-id': sid, 'mcp-protocol-version': PROTOCOL_VERSION };

    const inited = await post(client, t.path, headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
    if (inited.status < 200 || inited.status >= 300) fail('notifications/initialized', `HTTP ${inited.status}`, inited);
    if (inited.status !== 202)
      warnings.push(`${t.name}: notifications/initialized answered HTTP ${inited.status} (spec: 202)`);

    const list = await post(client, t.path, headers, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    if (list.status !== 200) fail('tools/list', `HTTP ${list.status}`, list);
    const names: string[] = (messageOf(list).msg?.result?.tools ?? []).map((x: { name: string }) => x.name);
    if (!names.includes(t.tool)) fail('tools/list', `tool ${t.tool} not listed (got: ${JSON.stringify(names)})`, list);

    const call = await post(client, t.path, headers, callBody(t.tool, 2));
    if (call.status !== 200) fail('tools/call', `HTTP ${call.status}`, call);
    const { msg, sse } = messageOf(call);
    const text = msg?.result?.content?.[0]?.text;
    if (text !== ECHO_TEXT || msg?.id !== 2) fail('tools/call', `no echo result with id 2 in body`, call);
    if (sse)
      warnings.push(
        `${t.name}: tools/call answered with SSE (content-type ${call.headers['content-type']}), expected JSON`,
      );
    return { target: t, id: sid, protocolVersion: initMsg.result.protocolVersion, headers };
  } finally {
    await client.close();
  }
}

// ───────────────────────────── load (autocannon) ─────────────────────────────

interface Sample {
  status: number;
  body: string;
}

interface LoadResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  meanMs: number;
  total: number;
  ok2xx: number;
  non2xx: number;
  badBodies: number; // 2xx whose body lacks the echo result
  errors: number;
  timeouts: number;
  resets: number;
  statusCodes: Record<string, number>;
  samples: Sample[];
  cpu: Record<string, number>; // % of one core, per process group, plus "bench" (this process)
  cpuUsPerReq: Record<string, number>; // CPU µs per completed request, same keys (no "other")
  rssMb: number;
}

let rpcId = 1000;

async function load(s: Session, seconds: number, cpuOf: Child[]): Promise<LoadResult> {
  const t = s.target;
  let non2xx = 0;
  let badBodies = 0;
  const samples: Sample[] = [];
  const cpu0 = cpuOf.map((c) => groupCpuSeconds(c.pid));
  const self0 = process.cpuUsage();
  const machine0 = machineBusySeconds();
  const t0 = performance.now();
  const r = await autocannon({
    url: t.origin + t.path,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: t.path,
        headers: s.headers,
        // Unique JSON-RPC id per request: concurrent requests on one session must not share an id.
        setupRequest: (req) => ({ ...req, body: JSON.stringify(callBody(t.tool, ++rpcId)) }),
        onResponse: (status, body) => {
          if (status < 200 || status >= 300) {
            non2xx++;
            if (samples.length < 5) samples.push({ status, body: body.slice(0, 1000) });
          } else if (!body.includes(ECHO_TEXT) || !body.includes('"result"')) {
            badBodies++;
            if (samples.length < 5) samples.push({ status, body: body.slice(0, 1000) });
          }
        },
      },
    ],
  });
  const wall = (performance.now() - t0) / 1000;
  const self1 = process.cpuUsage(self0);
  const cpu: Record<string, number> = {};
  const cpuSec: Record<string, number> = {};
  cpuOf.forEach((c, i) => {
    cpuSec[c.name] = groupCpuSeconds(c.pid) - cpu0[i]!;
    cpu[c.name] = Math.round((cpuSec[c.name]! / wall) * 100);
  });
  cpu.bench = Math.round(((self1.user + self1.system) / 1e6 / wall) * 100);
  // Everything else on the machine (other engineers' tests…): noise indicator.
  const ours = Object.values(cpu).reduce((a, b) => a + b, 0);
  cpu.other = Math.max(0, Math.round(((machineBusySeconds() - machine0) / wall) * 100 - ours));
  const statusCodes: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.statusCodeStats ?? {})) statusCodes[k] = v.count;
  const cpuUsPerReq: Record<string, number> = {};
  cpuSec.bench = (self1.user + self1.system) / 1e6;
  for (const [k, v] of Object.entries(cpuSec))
    if (v > 0) cpuUsPerReq[k] = Math.round((v * 1e6) / Math.max(1, r.requests.total));
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    meanMs: r.latency.average,
    total: r.requests.total,
    ok2xx: r['2xx'],
    non2xx: Math.max(non2xx, r.non2xx),
    badBodies,
    errors: r.errors,
    timeouts: r.timeouts,
    resets: r.resets,
    statusCodes,
    samples,
    cpu,
    cpuUsPerReq,
    rssMb: rssMb(t.child.pid),
  };
}

// ───────────────────────────── sequential latency (1 connection) ─────────────────────────────

interface SeqState {
  lat: number[];
  /** The same latencies by slice: added latency is taken slice by slice (addedMs). */
  slices: number[][];
  non2xx: number;
  badBodies: number;
  errors: number;
  samples: Sample[];
}

async function sequential(s: Session, seconds: number, st: SeqState | undefined): Promise<void> {
  const t = s.target;
  const client = new Client(t.origin, { pipelining: 1, connections: 1 } as ConstructorParameters<typeof Client>[1]);
  try {
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const body = JSON.stringify(callBody(t.tool, ++rpcId));
      const a = performance.now();
      try {
        const res = await client.request({
          method: 'POST',
          path: t.path,
          headers: s.headers,
          body,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        const text = await res.body.text();
        const ms = performance.now() - a;
        if (!st) continue;
        if (res.statusCode < 200 || res.statusCode >= 300) {
          st.non2xx++;
          if (st.samples.length < 5) st.samples.push({ status: res.statusCode, body: text.slice(0, 1000) });
        } else if (!text.includes(ECHO_TEXT)) {
          st.badBodies++;
          if (st.samples.length < 5) st.samples.push({ status: res.statusCode, body: text.slice(0, 1000) });
        } else {
          st.lat.push(ms);
          st.slices.at(-1)?.push(ms);
        }
      } catch (err) {
        if (st) st.errors++;
        if (st && st.samples.length < 5) st.samples.push({ status: 0, body: String(err) });
        if (!st) throw err;
      }
    }
  } finally {
    await client.close();
  }
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// ───────────────────────────── nginx ─────────────────────────────

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

async function waitForPort(port: number, child: Child, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exit) throw new Error(`${child.name} exited (${JSON.stringify(child.exit)}): ${child.tail.join(' | ')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => (sock.destroy(), resolve(true)));
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${child.name}: port ${port} not open after ${timeoutMs} ms`);
}

async function startNginx(dir: string, upstreamPort: number): Promise<{ child: Child; port: number } | string> {
  const which = spawnSync('which', ['nginx'], { encoding: 'utf8' });
  const bin = which.status === 0 ? which.stdout.trim() : '';
  if (!bin) return 'not installed (skipped)';
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-client;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
    }
  }
}
`,
  );
  const child = startChild('nginx', bin, ['-p', `${dir}/`, '-c', conf]);
  await waitForPort(port, child, 5000);
  return { child, port };
}

// ───────────────────────────── output ─────────────────────────────

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '—');
const pad = (s: string, w: number, right = false) => (right ? s.padStart(w) : s.padEnd(w));

interface TargetReport {
  name: string;
  /** The process whose CPU is this target's (direct: the upstream). */
  proc?: string;
  url: string;
  tool: string;
  session?: string;
  error?: unknown;
  rounds: LoadResult[];
  load?: LoadResult; // aggregate over rounds
  seq?: {
    n: number;
    p50: number;
    p90: number;
    p99: number;
    mean: number;
    /** p50 and p99 of each alternating slice. */
    slices: { p50: number; p99: number }[];
    non2xx: number;
    badBodies: number;
    errors: number;
    samples: Sample[];
  };
}

/**
 * Latency a target adds over another at one connection: the median, over the alternating slices, of
 * the difference in that slice. A burst of the host's stalls that lands on one slice of one target
 * (bench/tail.mjs) moves that slice's figure, not the result.
 */
function addedMs(target: TargetReport['seq'], base: TargetReport['seq'], q: 'p50' | 'p99'): number {
  if (!target || !base) return NaN;
  const diffs = target.slices.map((x, i) => x[q] - (base.slices[i]?.[q] ?? NaN)).filter(Number.isFinite);
  diffs.sort((a, b) => a - b);
  const mid = diffs.length / 2;
  return diffs.length % 2 ? diffs[Math.floor(mid)]! : (diffs[mid - 1]! + diffs[mid]!) / 2;
}

function aggregate(rounds: LoadResult[]): LoadResult | undefined {
  if (rounds.length === 0) return undefined;
  if (rounds.length === 1) return rounds[0];
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const sum = (f: (r: LoadResult) => number) => rounds.reduce((a, r) => a + f(r), 0);
  const statusCodes: Record<string, number> = {};
  for (const r of rounds)
    for (const [k, v] of Object.entries(r.statusCodes)) statusCodes[k] = (statusCodes[k] ?? 0) + v;
  const cpu: Record<string, number> = {};
  for (const k of Object.keys(rounds[0]!.cpu)) cpu[k] = Math.round(sum((r) => r.cpu[k] ?? 0) / rounds.length);
  const cpuUsPerReq: Record<string, number> = {};
  for (const k of Object.keys(rounds[0]!.cpuUsPerReq))
    cpuUsPerReq[k] = Math.round(sum((r) => r.cpuUsPerReq[k] ?? 0) / rounds.length);
  return {
    rps: sum((r) => r.rps) / rounds.length,
    p50: med(rounds.map((r) => r.p50)),
    p90: med(rounds.map((r) => r.p90)),
    p99: med(rounds.map((r) => r.p99)),
    meanMs: sum((r) => r.meanMs) / rounds.length,
    total: sum((r) => r.total),
    ok2xx: sum((r) => r.ok2xx),
    non2xx: sum((r) => r.non2xx),
    badBodies: sum((r) => r.badBodies),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    resets: sum((r) => r.resets),
    statusCodes,
    samples: rounds.flatMap((r) => r.samples).slice(0, 5),
    cpu,
    cpuUsPerReq,
    rssMb: rounds[rounds.length - 1]!.rssMb,
  };
}

// ───────────────────────────── main ─────────────────────────────

async function main(): Promise<number> {
  tmpDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const warnings: string[] = [];
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(
    `host: ${cpus().length} cores, loadavg ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  log(
    `tollgate bench: ${CONNECTIONS} connections, ${SECONDS}s load × ${ROUNDS} round(s), ${WARMUP_SECONDS}s warm-up, ${LAT_SECONDS}s sequential latency per target`,
  );

  // 1. upstream
  const upstream = startChild('upstream', process.execPath, ['--import', 'tsx', 'bench/upstream-server.ts']);
  const upstreamPort = Number((await waitForLine(upstream, /^LISTENING (\d+)$/, 30_000))[1]);
  log(`upstream: http://127.0.0.1:${upstreamPort}/mcp (pid ${upstream.pid})`);

  const reports: TargetReport[] = [];
  const sessions: Session[] = [];
  const addTarget = async (t: Target) => {
    const rep: TargetReport = { name: t.name, proc: t.child.name, url: t.origin + t.path, tool: t.tool, rounds: [] };
    reports.push(rep);
    try {
      const s = await openSession(t, warnings);
      rep.session = s.id;
      sessions.push(s);
      log(`${t.name}: session ${s.id} ok (protocol ${s.protocolVersion}, ${t.tool} → "${ECHO_TEXT}")`);
    } catch (err) {
      rep.error = err instanceof TargetError ? err.toJSON() : { message: String(err) };
      log(
        `${t.name}: FAILED ${err instanceof TargetError ? `at ${err.stage}: ${err.message}\n  status: ${err.status}\n  headers: ${JSON.stringify(err.responseHeaders)}\n  body: ${err.body}` : String(err)}`,
      );
    }
  };
  await addTarget({
    name: 'direct',
    origin: `http://127.0.0.1:${upstreamPort}`,
    path: '/mcp',
    tool: 'echo',
    auth: false,
    child: upstream,
  });

  // 2. gateway
  const cfgPath = join(tmpDir, 'tollgate.yaml');
  // Every pipeline step on: audit (JSONL file), a policy with an allow-list, a deny rule and an
  // argument constraint, and rate limits (memory store) that never run out.
  mkdirSync(join(tmpDir, 'policies'));
  writeFileSync(
    join(tmpDir, 'policies', 'bench.yaml'),
    `agent: bench\ntools:\n  allow: ["bench__*"]\n  deny: ["bench__admin_*"]\nconstraints:\n  - tool: bench__echo\n    when: 'size(args.text) < 1000'\n` +
      `limits:\n  requests: [{ limit: 1000000000, per: 1m }]\n  tools: [{ tool: "bench__*", requests: [{ limit: 1000000000, per: 1h }] }]\n`,
  );
  // BENCH_AUDIT=signed: the audit log with signed checkpoints (default schedule).
  if (process.env.BENCH_AUDIT === 'signed')
    writeFileSync(
      join(tmpDir, 'audit-key.pem'),
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
  writeFileSync(
    cfgPath,
    `server: { host: 127.0.0.1, port: 0, max_sessions: 20000, max_sessions_per_agent: 20000 }
log: { level: warn }
upstreams:
  bench:
    transport: streamable_http
    url: http://127.0.0.1:${upstreamPort}/mcp
auth:
  api_keys:
    - { agent: bench, key: ${API_KEY} }
${process.env.BENCH_POLICY === 'off' ? '' : 'policies: { dir: policies }\n'}${process.env.BENCH_AUDIT === 'off' ? 'audit: { file: null }\n' : ''}${process.env.BENCH_AUDIT === 'signed' ? 'audit: { signing_key_file: audit-key.pem }\n' : ''}${process.env.BENCH_METRICS === 'off' ? 'metrics: { enabled: false }\n' : ''}`,
  );
  const gwNodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  // Measure what production runs: the compiled JavaScript (tsx adds per-closure helpers), built
  // into .bench-build/ so a stale dist/ never shadows the sources for `npm start`.
  log('compiling the gateway (tsc) into .bench-build/ …');
  compileGateway(ROOT);
  const gateway = startChild('gateway', process.execPath, [
    YOUNG_GENERATION_FLAG,
    ...gwNodeArgs,
    '.bench-build/main.js',
    'serve',
    '--config',
    cfgPath,
    '--port',
    '0',
  ]);
  let gatewayPort: number | undefined;
  let metricsUrl: string | undefined;
  try {
    gatewayPort = Number(
      (await waitForLine(gateway, /Tollgate is listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/, 30_000))[1],
    );
    const ups = await waitForLine(gateway, /^\s*upstreams: (.*)$/, 2000).catch(() => undefined);
    log(`gateway: http://127.0.0.1:${gatewayPort}/mcp (pid ${gateway.pid})${ups ? ` — upstreams: ${ups[1]}` : ''}`);
    if (ups && !/\(ready\)/.test(ups[1]!)) warnings.push(`gateway: upstream not ready at startup: ${ups[1]}`);
  } catch (err) {
    log(`gateway: FAILED to start: ${(err as Error).message}\n  output:\n    ${gateway.tail.join('\n    ')}`);
    reports.push({
      name: 'gateway',
      url: '',
      tool: 'bench__echo',
      rounds: [],
      error: { stage: 'start', message: (err as Error).message, output: gateway.tail },
    });
  }
  if (gatewayPort !== undefined) {
    await addTarget({
      name: 'gateway',
      origin: `http://127.0.0.1:${gatewayPort}`,
      path: '/mcp',
      tool: 'bench__echo',
      auth: true,
      child: gateway,
    });
    metricsUrl = `http://127.0.0.1:${gatewayPort}/metrics`;
  }

  // 2b. the minimal Node relay (bench/minimal-relay.mjs): node:http → undici Pool, no steps. The
  // floor for any Node proxy; Tollgate's CPU per call is compared with it in the same run.
  // 2c. the same relay without undici (bench/raw-socket-relay.mjs: raw keep-alive sockets). Not a
  // usable proxy (it reads only this upstream's answers): what an HTTP client of our own saves, the
  // floor Tollgate's own client (src/upstream/h1/) is measured against beside the relay.
  for (const [name, script, label] of [
    ['relay', 'bench/minimal-relay.mjs', 'minimal relay'],
    ['raw', 'bench/raw-socket-relay.mjs', 'raw-socket relay'],
  ] as const) {
    try {
      const child = startChild(name, process.execPath, [
        YOUNG_GENERATION_FLAG,
        script,
        `http://127.0.0.1:${upstreamPort}`,
      ]);
      const port = Number((await waitForLine(child, /^LISTENING (\d+)$/, 30_000))[1]);
      log(`${label}: http://127.0.0.1:${port}/mcp (pid ${child.pid})`);
      await addTarget({ name, origin: `http://127.0.0.1:${port}`, path: '/mcp', tool: 'echo', auth: false, child });
    } catch (err) {
      warnings.push(`${label}: ${(err as Error).message}`);
    }
  }

  // 3. nginx (optional)
  let nginxNote: string | undefined;
  try {
    const n = await startNginx(tmpDir, upstreamPort);
    if (typeof n === 'string') nginxNote = n;
    else {
      log(`nginx: http://127.0.0.1:${n.port}/mcp (pid ${n.child.pid}, 1 worker, keepalive upstream)`);
      await addTarget({
        name: 'nginx',
        origin: `http://127.0.0.1:${n.port}`,
        path: '/mcp',
        tool: 'echo',
        auth: false,
        child: n.child,
      });
    }
  } catch (err) {
    nginxNote = `failed to start: ${(err as Error).message}`;
  }
  if (nginxNote) log(`nginx: ${nginxNote}`);

  // Processes whose CPU we sample during load (process groups).
  const cpuOf = children.filter((c) => !c.exit);
  const repOf = (s: Session) => reports.find((r) => r.name === s.target.name)!;

  // 4. warm-up (not counted), then measured load, alternating targets each round.
  for (const s of sessions) {
    log(`warm-up ${s.target.name} (${WARMUP_SECONDS}s)…`);
    await load(s, WARMUP_SECONDS, cpuOf);
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of sessions) {
      log(`load ${s.target.name}${ROUNDS > 1 ? ` round ${round}` : ''} (${SECONDS}s, ${CONNECTIONS} connections)…`);
      const r = await load(s, SECONDS, cpuOf);
      repOf(s).rounds.push(r);
      if (r.non2xx || r.badBodies || r.errors || r.timeouts) {
        log(
          `  ${s.target.name}: non2xx=${r.non2xx} badBodies=${r.badBodies} errors=${r.errors} timeouts=${r.timeouts} status=${JSON.stringify(r.statusCodes)}`,
        );
        for (const x of r.samples.slice(0, 2)) log(`  sample: HTTP ${x.status} ${x.body}`);
      }
    }
  }
  for (const rep of reports) rep.load = aggregate(rep.rounds);

  // 5. sequential latency, 1 connection, alternating slices.
  log(`sequential latency (1 connection, ${LAT_SECONDS}s per target in ${LAT_SLICES} alternating slices)…`);
  const seq = new Map<string, SeqState>();
  for (const s of sessions) {
    seq.set(s.target.name, { lat: [], slices: [], non2xx: 0, badBodies: 0, errors: 0, samples: [] });
    await sequential(s, 0.5, undefined).catch(() => undefined); // warm-up
  }
  for (let i = 0; i < LAT_SLICES; i++) {
    for (const s of sessions) {
      const st = seq.get(s.target.name)!;
      st.slices.push([]);
      await sequential(s, LAT_SECONDS / LAT_SLICES, st);
    }
  }
  for (const s of sessions) {
    const st = seq.get(s.target.name)!;
    const sorted = [...st.lat].sort((a, b) => a - b);
    repOf(s).seq = {
      n: sorted.length,
      p50: pct(sorted, 50),
      p90: pct(sorted, 90),
      p99: pct(sorted, 99),
      mean: sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1),
      slices: st.slices.map((xs) => {
        const x = [...xs].sort((a, b) => a - b);
        return { p50: pct(x, 50), p99: pct(x, 99) };
      }),
      non2xx: st.non2xx,
      badBodies: st.badBodies,
      errors: st.errors,
      samples: st.samples,
    };
  }

  // 5b. memory per idle session: N more sessions (initialize only) left idle.
  const IDLE_SESSIONS = envNum('BENCH_IDLE_SESSIONS', 10_000, true);
  let idle: IdleSessionsResult | undefined;
  if (gatewayPort !== undefined && IDLE_SESSIONS > 0 && gateway.pid !== undefined) {
    log(`idle sessions: opening ${IDLE_SESSIONS}…`);
    idle = await measureIdleSessions(
      `http://127.0.0.1:${gatewayPort}`,
      API_KEY,
      gateway.pid,
      IDLE_SESSIONS,
      PROTOCOL_VERSION,
    ).catch((err: unknown) => {
      warnings.push(`idle sessions: ${(err as Error).message}`);
      return undefined;
    });
  }

  // Children that died along the way.
  for (const c of children)
    if (c.exit)
      warnings.push(
        `${c.name} exited during the run: ${JSON.stringify(c.exit)}; last output: ${c.tail.slice(-5).join(' | ')}`,
      );
  if (gateway.stderrLines > 0)
    warnings.push(
      `gateway wrote ${gateway.stderrLines} stderr line(s); last: ${gateway.tail
        .filter((l) => l.startsWith('[err]'))
        .slice(-2)
        .join(' | ')
        .slice(0, 600)}`,
    );
  if (upstream.stderrLines > 0)
    warnings.push(
      `upstream wrote ${upstream.stderrLines} stderr line(s); last: ${upstream.tail
        .filter((l) => l.startsWith('[err]'))
        .slice(-2)
        .join(' | ')
        .slice(0, 600)}`,
    );

  // 6. report
  const direct = reports.find((r) => r.name === 'direct');
  const gw = reports.find((r) => r.name === 'gateway');
  const directRps = direct?.load?.rps ?? NaN;
  const ownCpuUs = (r: TargetReport | undefined) => (r?.load && r.proc ? (r.load.cpuUsPerReq[r.proc] ?? NaN) : NaN);
  const relayCpuUs = ownCpuUs(reports.find((r) => r.name === 'relay'));
  log('');
  log(
    `${pad('target', 8)} | ${pad('rps', 8, true)} | ${pad('p50 ms', 6, true)} | ${pad('p99 ms', 6, true)} | ${pad('ratio vs direct', 26)} | ${pad('CPU µs/call', 11, true)} | ${pad('vs relay', 22)} | non2xx | errors | cpu % of one core during the load`,
  );
  log(
    `${'-'.repeat(8)}-|-${'-'.repeat(8)}-|-${'-'.repeat(6)}-|-${'-'.repeat(6)}-|-${'-'.repeat(26)}-|-${'-'.repeat(11)}-|-${'-'.repeat(22)}-|--------|--------|-----------------`,
  );
  for (const rep of reports) {
    const l = rep.load;
    if (!l) {
      log(
        `${pad(rep.name, 8)} | ${pad('FAILED', 8, true)} | ${pad('—', 6, true)} | ${pad('—', 6, true)} | ${pad('—', 26)} | ${pad('—', 11, true)} | ${pad('—', 22)} |      — |      — | (see error above)`,
      );
      continue;
    }
    const ratio = l.rps / directRps;
    let ratioStr = `${fmt(ratio, 2)}×`;
    if (rep.name === 'gateway')
      ratioStr += ` (goal ≥ ${GOAL_RATIO.toFixed(2)}× ${ratio >= GOAL_RATIO ? 'OK' : 'MISS'})`;
    const cpu = Object.entries(l.cpu)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const own = ownCpuUs(rep);
    let vsRelay = rep.name === 'direct' ? '(the upstream)' : `${fmt(own / relayCpuUs, 2)}×`;
    if (rep.name === 'gateway')
      vsRelay += ` (goal ≤ ${GOAL_CPU_VS_RELAY}× ${own / relayCpuUs <= GOAL_CPU_VS_RELAY ? 'OK' : 'MISS'})`;
    log(
      `${pad(rep.name, 8)} | ${pad(fmt(l.rps, 0), 8, true)} | ${pad(fmt(l.p50, 0), 6, true)} | ${pad(fmt(l.p99, 0), 6, true)} | ${pad(ratioStr, 26)} | ${pad(fmt(own, 0), 11, true)} | ${pad(vsRelay, 22)} | ${pad(String(l.non2xx + l.badBodies), 6, true)} | ${pad(String(l.errors + l.timeouts), 6, true)} | ${cpu}`,
    );
  }
  if (nginxNote) log(`nginx: ${nginxNote}`);
  const rawCpuUs = ownCpuUs(reports.find((r) => r.name === 'raw'));
  if (Number.isFinite(rawCpuUs))
    log(
      `gateway CPU per call over the raw-socket relay's (both without undici on the upstream side): ${fmt(ownCpuUs(gw) / rawCpuUs, 2)}×`,
    );
  log(
    `CPU µs per request: ${reports
      .filter((r) => r.load)
      .map(
        (r) =>
          `${r.name} [${Object.entries(r.load!.cpuUsPerReq)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}]`,
      )
      .join('; ')}`,
  );
  log('');
  let gatewayOverheadP50: number | undefined;
  if (metricsUrl) {
    const res = await fetch(metricsUrl).catch(() => undefined);
    if (res?.ok) gatewayOverheadP50 = overheadP50FromMetrics(await res.text());
  }
  log('1-connection sequential latency (ms):');
  for (const rep of reports) {
    if (!rep.seq) continue;
    const q = rep.seq;
    log(
      `  ${pad(rep.name, 8)} p50 ${fmt(q.p50, 3)}  p90 ${fmt(q.p90, 3)}  p99 ${fmt(q.p99, 3)}  (n=${q.n}${q.non2xx + q.badBodies + q.errors ? `, failures=${q.non2xx + q.badBodies + q.errors}` : ''})`,
    );
  }
  const added = addedMs(gw?.seq, direct?.seq, 'p50');
  const addedP99 = addedMs(gw?.seq, direct?.seq, 'p99');
  log(`  added over direct (median over the ${LAT_SLICES} slices of the difference in each):`);
  log(
    `  gateway-added p50: ${fmt(added, 3)} ms (goal ≤ ${GOAL_ADDED_P50_MS} ms ${added <= GOAL_ADDED_P50_MS ? 'OK' : 'MISS'}), p99: ${fmt(addedP99, 3)} ms (goal ≤ ${GOAL_ADDED_P99_MS} ms ${addedP99 <= GOAL_ADDED_P99_MS ? 'OK' : 'MISS'})`,
  );
  const relaySeq = reports.find((r) => r.name === 'relay')?.seq;
  if (relaySeq)
    log(
      `  minimal-relay-added p50: ${fmt(addedMs(relaySeq, direct?.seq, 'p50'), 3)} ms, p99: ${fmt(addedMs(relaySeq, direct?.seq, 'p99'), 3)} ms`,
    );
  if (gatewayOverheadP50 !== undefined)
    log(`  gateway overhead p50 from its own /metrics histogram (total − upstream): ${fmt(gatewayOverheadP50, 3)} ms`);
  const gwRatio = (gw?.load?.rps ?? NaN) / directRps;
  if (idle)
    log(
      `idle sessions: ${idle.sessions} open (${idle.refused} refused): gateway RSS ${fmt(idle.rssBeforeMiB, 0)} → ${fmt(idle.rssAfterMiB, 0)} MiB (+${fmt(idle.rssAfterMiB - idle.rssBeforeMiB, 1)} MiB, ${fmt(((idle.rssAfterMiB - idle.rssBeforeMiB) * 1024) / (idle.sessions || 1), 1)} KiB per session); session id ≤ ${idle.maxIdChars} characters`,
    );

  const invalidReasons: string[] = [];
  for (const rep of reports) {
    if (rep.error) invalidReasons.push(`${rep.name}: ${JSON.stringify(rep.error).slice(0, 300)}`);
    const l = rep.load;
    if (l?.non2xx)
      invalidReasons.push(`${rep.name}: ${l.non2xx} non-2xx during load (${JSON.stringify(l.statusCodes)})`);
    if (l?.badBodies) invalidReasons.push(`${rep.name}: ${l.badBodies} 2xx responses without the echo result`);
    if (l && l.errors + l.timeouts)
      invalidReasons.push(`${rep.name}: ${l.errors} connection errors, ${l.timeouts} timeouts during load`);
    const q = rep.seq;
    if (q && q.non2xx + q.badBodies + q.errors)
      invalidReasons.push(`${rep.name}: ${q.non2xx + q.badBodies + q.errors} failures in sequential latency`);
  }
  for (const c of children) if (c.exit) invalidReasons.push(`${c.name} exited during the run`);
  const valid = invalidReasons.length === 0;
  log('');
  for (const w of warnings) log(`warning: ${w}`);
  for (const rep of reports)
    for (const x of rep.load?.samples ?? []) log(`${rep.name} sample failure: HTTP ${x.status} ${x.body}`);
  log(valid ? 'run: VALID' : `run: INVALID\n  - ${invalidReasons.join('\n  - ')}`);

  const json = {
    settings: {
      seconds: SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      latSeconds: LAT_SECONDS,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      protocolVersion: PROTOCOL_VERSION,
    },
    targets: Object.fromEntries(
      reports.map((r) => [
        r.name,
        {
          url: r.url,
          tool: r.tool,
          error: r.error ?? null,
          rps: r.load?.rps ?? null,
          p50Ms: r.load?.p50 ?? null,
          p90Ms: r.load?.p90 ?? null,
          p99Ms: r.load?.p99 ?? null,
          meanMs: r.load?.meanMs ?? null,
          ratioVsDirect: r.load ? r.load.rps / directRps : null,
          requests: r.load?.total ?? null,
          non2xx: r.load?.non2xx ?? null,
          badBodies: r.load?.badBodies ?? null,
          errors: r.load?.errors ?? null,
          timeouts: r.load?.timeouts ?? null,
          statusCodes: r.load?.statusCodes ?? null,
          cpuPercent: r.load?.cpu ?? null,
          cpuUsPerReq: r.load?.cpuUsPerReq ?? null,
          rssMb: r.load?.rssMb ?? null,
          rounds: r.rounds.map((x) => ({ rps: x.rps, p50Ms: x.p50, p99Ms: x.p99, non2xx: x.non2xx })),
          seq: r.seq
            ? {
                n: r.seq.n,
                p50Ms: r.seq.p50,
                p90Ms: r.seq.p90,
                p99Ms: r.seq.p99,
                meanMs: r.seq.mean,
                failures: r.seq.non2xx + r.seq.badBodies + r.seq.errors,
              }
            : null,
        },
      ]),
    ),
    nginx: nginxNote ?? 'ran',
    gatewayRatio: Number.isFinite(gwRatio) ? gwRatio : null,
    gatewayAddedP50Ms: Number.isFinite(added) ? added : null,
    gatewayAddedP99Ms: Number.isFinite(addedP99) ? addedP99 : null,
    gatewayCpuUsPerCall: Number.isFinite(ownCpuUs(gw)) ? ownCpuUs(gw) : null,
    relayCpuUsPerCall: Number.isFinite(relayCpuUs) ? relayCpuUs : null,
    idleSessions: idle ?? null,
    goals: {
      ratioMin: GOAL_RATIO,
      ratioOk: gwRatio >= GOAL_RATIO,
      addedP50MaxMs: GOAL_ADDED_P50_MS,
      addedP50Ok: added <= GOAL_ADDED_P50_MS,
      addedP99MaxMs: GOAL_ADDED_P99_MS,
      addedP99Ok: addedP99 <= GOAL_ADDED_P99_MS,
      cpuVsRelayMax: GOAL_CPU_VS_RELAY,
      cpuVsRelayOk: ownCpuUs(gw) / relayCpuUs <= GOAL_CPU_VS_RELAY,
    },
    valid,
    invalidReasons,
    warnings,
  };
  log(`BENCH_JSON ${JSON.stringify(json)}`);
  return 0;
}

void main()
  .catch((err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    for (const c of children)
      if (c.tail.length) process.stderr.write(`--- ${c.name} (pid ${c.pid}) last output:\n${c.tail.join('\n')}\n`);
    return 1;
  })
  .then(async (code) => {
    await stopAll();
    process.exit(code);
  });
