// A/B of gateway builds on the LLM path by CPU per chat completion: bench/llm.ts's Tollgate
// (bench/llm-gateway.mjs: API-key auth, a token budget, policy, the audit file) run once per build
// against one mock upstream, the same autocannon load for each, rounds alternated, CPU time of each
// gateway process read from /proc (user and system) and divided by its completions.
//
//   node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir .bench-A --sourceMap false
//   (change, then the same into .bench-B)
//   node bench/llm-ab.mjs A=.bench-A B=.bench-B [relay=relay]   # Linux only (/proc)
//
// `relay` is bench/minimal-relay.mjs in front of the same mock (node:http → undici Pool, no steps):
// the floor for a Node proxy of these completions (JSON only: it does not stream).
//
// Env: CALLS (20000) completions per round and build, WARM (10000) first, ROUNDS (6), CONN (32)
// connections, MODE (json or stream), NODE_ARGS (node flags for the gateways, e.g. --cpu-prof) and
// GATEWAY_LOG (a file for their output: NODE_ARGS=--trace-gc-nvp, then scripts/gc-summary.mjs).
import autocannon from 'autocannon';
import { cpu, startReady } from './processes.mjs';

const num = (name, d) => Number(process.env[name] ?? d);
const CALLS = num('CALLS', 20000);
const WARM = num('WARM', 10000);
const ROUNDS = num('ROUNDS', 6);
const CONN = num('CONN', 32);
const STREAM = process.env.MODE === 'stream';
// As `tollgate serve` and bench/llm.ts start the gateway (src/cli/gc-tuning.ts).
const NODE_ARGS = ['--max-semi-space-size=32', ...(process.env.NODE_ARGS ?? '').split(' ').filter(Boolean)];
const KEY = 'tg_bench-llm-key-0123456789';
const procs = [];
process.on('exit', () => {
  for (const p of procs) p.kill('SIGKILL');
});

const start = (args, ready, env = {}, log = undefined) =>
  startReady(procs, args, ready, { env, log }).then(({ proc, ready: url }) => ({ proc, url }));

const body = JSON.stringify({
  model: 'gpt-4o-mini',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'Say hello to the benchmark in one short sentence.' }],
  ...(STREAM ? { stream: true } : {}),
});

async function load(t, amount) {
  let bad = 0;
  const r = await autocannon({
    url: `${t.url}/v1/chat/completions`,
    connections: CONN,
    amount,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body,
        onResponse: (status) => void (status !== 200 && bad++),
      },
    ],
  });
  if (bad + r.errors + r.timeouts > 0) throw new Error(`${t.name}: ${bad} bad answers, ${r.errors} errors`);
  return { done: r.requests.total, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

const mock = await start(['--import', 'tsx', 'test/fixtures/mock-llm.ts'], /MOCK_LLM_URL (\S+)/);
const targets = [];
for (const spec of process.argv.slice(2)) {
  const [name, dir] = spec.split('=');
  if (!name || !dir) throw new Error(`expected name=builddir or name=relay, got ${spec}`);
  if (dir === 'relay') {
    const origin = new URL(mock.url).origin;
    const r = await start([...NODE_ARGS, 'bench/minimal-relay.mjs', origin], /LISTENING (\d+)/);
    targets.push({ name, proc: r.proc, url: `http://127.0.0.1:${r.url}`, perCall: [], rps: [] });
    continue;
  }
  const g = await start(
    [...NODE_ARGS, 'bench/llm-gateway.mjs', mock.url, KEY],
    /GATEWAY_URL (\S+)/,
    { TOLLGATE_BUILD: dir },
    process.env.GATEWAY_LOG,
  );
  targets.push({ name, ...g, perCall: [], rps: [] });
}
// The pids, for `perf record -p` beside a run (NODE_ARGS=--perf-basic-prof names the JIT frames).
for (const t of targets) console.log(`${t.name.padEnd(8)} pid ${t.proc.pid}`);
for (const t of targets) await load(t, WARM);
for (let round = 0; round < ROUNDS; round++) {
  for (const t of targets) {
    const before = cpu(t.proc.pid);
    const r = await load(t, CALLS);
    const after = cpu(t.proc.pid);
    const user = (after.user - before.user) / r.done;
    const sys = (after.sys - before.sys) / r.done;
    t.perCall.push(user + sys);
    t.rps.push(r.rps);
    console.log(
      `${t.name.padEnd(8)} round ${round}: ${(user + sys).toFixed(0)} µs/completion (user ${user.toFixed(0)}, sys ${sys.toFixed(0)}), ` +
        `${r.rps.toFixed(0)} rps, p50 ${r.p50} ms, p99 ${r.p99} ms`,
    );
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const t of targets)
  console.log(
    `${t.name.padEnd(8)} median ${median(t.perCall).toFixed(0)} µs/completion [${t.perCall.map((x) => x.toFixed(0)).join(', ')}]` +
      `  median ${median(t.rps).toFixed(0)} rps [${t.rps.map((x) => x.toFixed(0)).join(', ')}]`,
  );
// SIGTERM, and wait: the gateways write `--cpu-prof` profiles and remove their temp dirs at exit.
await Promise.all(
  procs.map(
    (p) =>
      new Promise((resolve) => {
        if (p.exitCode !== null) return resolve();
        p.once('exit', resolve);
        p.kill('SIGTERM');
      }),
  ),
);
process.exit(0);
