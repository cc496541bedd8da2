// A/B of gateway builds by CPU per call: the same upstream and load for each, rounds alternated, CPU
// time of each gateway process read from /proc (user and system) and divided by its calls. For
// changes too small for `npm run bench`'s one run per target to show (the README's session 6 table).
// Each round also prints the client-side latency p50/p99 (CONN=1 gives the sequential latency).
//
//   node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir .bench-A --sourceMap false
//   (change, then the same into .bench-B)
//   node bench/ab.mjs A=.bench-A B=.bench-B [relay=relay]     # Linux only (/proc)
//   node bench/ab.mjs A=.bench-A bare=.bench-A:noaudit,nopolicy  # the same build without audit and policy
//
// Env: CALLS (8000) per round, WARM (8000) calls first, ROUNDS (6), CONN (16) connections, TAIL=1 (what
// makes the latency tail: bench/tail.mjs, with CONN=1), NODE_ARGS
// (node flags for the gateways; RELAY_ARGS for the relay) and GATEWAY_LOG (a file for their output). Young-generation GC per
// build: NODE_ARGS=--trace-gc-nvp GATEWAY_LOG=gc.log node bench/ab.mjs …, then
// node scripts/gc-summary.mjs gc.log. Each gateway gets the bench's config (every step on: API key,
// policy with a CEL constraint, limits, the audit file, metrics). `relay` is bench/minimal-relay.mjs;
// `raw-relay` is bench/raw-socket-relay.mjs (the same without undici: what undici costs).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { cpu, startReady } from './processes.mjs';
import { printTail } from './tail.mjs';

const num = (name, d) => Number(process.env[name] ?? d);
const CALLS = num('CALLS', 8000);
const WARM = num('WARM', 8000);
const ROUNDS = num('ROUNDS', 6);
const CONN = num('CONN', 16);
/**
 * Node flags for the gateways (say `--trace-gc-nvp` or `--perf-basic-prof`), split on spaces, after
 * the young-generation size `tollgate serve` is started with (src/cli/gc-tuning.ts); BARE=1 leaves it out.
 */
const YOUNG = process.env.BARE === '1' ? [] : ['--max-semi-space-size=32'];
/** TAIL=1: every process records its GC pauses (bench/gc-pauses.mjs) into this folder. */
const GC_DIR = process.env.TAIL === '1' ? mkdtempSync(join(tmpdir(), 'tollgate-ab-gc-')) : undefined;
const GC_PAUSES = GC_DIR ? ['--import', new URL('./gc-pauses.mjs', import.meta.url).href] : [];
if (GC_DIR) process.env.GC_PAUSES_DIR = GC_DIR;
const NODE_ARGS = [...YOUNG, ...GC_PAUSES, ...(process.env.NODE_ARGS ?? '').split(' ').filter(Boolean)];
/** The same for the minimal relay (RELAY_ARGS=--cpu-prof to profile it beside a gateway). */
const RELAY_ARGS = [...YOUNG, ...GC_PAUSES, ...(process.env.RELAY_ARGS ?? '').split(' ').filter(Boolean)];
/** Where the gateways' own output goes (GC traces), when set: scripts/gc-summary.mjs reads it. */
const GATEWAY_LOG = process.env.GATEWAY_LOG;
const KEY = 'bench-key-123456';
const dirs = GC_DIR ? [GC_DIR] : [];
const procs = [];
process.on('exit', () => {
  for (const p of procs) p.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
// Stopped early (Ctrl-C, kill): the gateways, the relay and the upstream go too.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

const start = (args, ready, log) =>
  startReady(procs, args, ready, { log }).then(({ proc, ready: port }) => ({ proc, port }));

const upstream = await start(['--import', 'tsx', 'bench/upstream-server.ts'], /LISTENING (\d+)/);
const origin = `http://127.0.0.1:${upstream.port}`;

const targets = [];
for (const spec of process.argv.slice(2)) {
  const [name, build] = spec.split('=');
  // `name=dir:noaudit,nopolicy`: the same build without the audit log and/or the policy (what the steps cost).
  const [dir, variant = ''] = (build ?? '').split(':');
  if (!name || !dir) throw new Error(`expected name=builddir, name=relay or name=raw-relay, got ${spec}`);
  if (dir === 'relay' || dir === 'raw-relay') {
    const script = dir === 'relay' ? 'bench/minimal-relay.mjs' : 'bench/raw-socket-relay.mjs';
    const r = await start([...RELAY_ARGS, script, origin], /LISTENING (\d+)/);
    targets.push({ name, ...r, auth: false, tool: 'echo' });
    continue;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'tollgate-ab-'));
  dirs.push(tmp);
  mkdirSync(join(tmp, 'policies'));
  writeFileSync(
    join(tmp, 'policies', 'bench.yaml'),
    `agent: bench\ntools:\n  allow: ["bench__*"]\n  deny: ["bench__admin_*"]\nconstraints:\n  - tool: bench__echo\n    when: 'size(args.text) < 1000'\n` +
      `limits:\n  requests: [{ limit: 1000000000, per: 1m }]\n  tools: [{ tool: "bench__*", requests: [{ limit: 1000000000, per: 1h }] }]\n`,
  );
  writeFileSync(
    join(tmp, 'tollgate.yaml'),
    `server: { host: 127.0.0.1, port: 0 }\nlog: { level: warn }\nupstreams:\n  bench:\n    transport: streamable_http\n    url: ${origin}/mcp\n` +
      `auth:\n  api_keys:\n    - { agent: bench, key: ${KEY} }\n` +
      (variant.includes('nopolicy') ? '' : 'policies: { dir: policies }\n') +
      `audit: { file: ${variant.includes('noaudit') ? 'null' : join(tmp, 'audit.jsonl')} }\n`,
  );
  const g = await start(
    [...NODE_ARGS, `${dir}/main.js`, 'serve', '--config', join(tmp, 'tollgate.yaml')],
    /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/,
    GATEWAY_LOG,
  );
  targets.push({ name, ...g, auth: true, tool: 'bench__echo' });
}

async function openSession(t) {
  t.pool = new Pool(`http://127.0.0.1:${t.port}`, { connections: CONN, pipelining: 1 });
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(t.auth ? { authorization: `Bearer ${KEY}` } : {}),
  };
  const post = async (h, body) => {
    const r = await t.pool.request({ method: 'POST', path: '/mcp', headers: h, body: JSON.stringify(body) });
    await r.body.text();
    return r;
  };
  const init = await post(headers, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'ab', version: '1' } },
  });
  t.headers = { ...headers, 'mcp-session-id': init.headers['mcp-session-id'], 'mcp-protocol-version': '2025-11-25' };
  await post(t.headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
}

let nextId = 1;
async function load(t, n) {
  const params = JSON.stringify({ name: t.tool, arguments: { text: 'hello from the tollgate bench' } });
  // A new id per call, as clients send them (the gateway keys calls in flight by id).
  const body = () => `{"jsonrpc":"2.0","id":${nextId++},"method":"tools/call","params":${params}}`;
  let next = 0;
  const ms = [];
  const worker = async () => {
    while (next++ < n) {
      const started = performance.now();
      const r = await t.pool.request({ method: 'POST', path: '/mcp', headers: t.headers, body: body() });
      const text = await r.body.text();
      ms.push(performance.now() - started);
      t.calls?.push([performance.timeOrigin + started, performance.now() - started]);
      if (r.statusCode !== 200 || !text.includes('hello')) throw new Error(`${t.name}: ${r.statusCode} ${text}`);
    }
  };
  await Promise.all(Array.from({ length: CONN }, worker));
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length * 0.5)], p99: ms[Math.floor(ms.length * 0.99)] };
}

for (const t of targets) {
  await openSession(t);
  await load(t, WARM);
  t.perCall = [];
  t.p99 = [];
  if (GC_DIR) t.calls = [];
}
for (let round = 0; round < ROUNDS; round++) {
  for (const t of targets) {
    const before = cpu(t.proc.pid);
    const lat = await load(t, CALLS);
    const after = cpu(t.proc.pid);
    const user = (after.user - before.user) / CALLS;
    const sys = (after.sys - before.sys) / CALLS;
    t.perCall.push(user + sys);
    t.p99.push(lat.p99);
    console.log(
      `${t.name.padEnd(8)} round ${round}: ${(user + sys).toFixed(0)} µs/call (user ${user.toFixed(0)}, sys ${sys.toFixed(0)}), ` +
        `latency p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms`,
    );
  }
}
for (const t of targets) {
  const sorted = [...t.perCall].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(
    `${t.name.padEnd(8)} median ${median.toFixed(0)} µs/call  [${t.perCall.map((x) => x.toFixed(0)).join(', ')}]` +
      `  p99 ms [${t.p99.map((x) => x.toFixed(2)).join(', ')}]`,
  );
}
// The gateways are stopped and waited for, so that what they write at exit (`--cpu-prof` profiles) is
// written before the temp dirs go.
for (const t of targets) t.pool.destroy();
const stopped = (p) =>
  new Promise((resolve) => {
    if (p.exitCode !== null) return resolve();
    p.once('exit', resolve);
    p.kill();
  });
await Promise.all(procs.map(stopped));
if (GC_DIR) for (const t of targets) printTail(t.name, t.calls, t.proc.pid, GC_DIR);
process.exit(0);
