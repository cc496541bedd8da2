/**
 * Tracing overhead: `node --import tsx bench/tracing.ts` (part of `npm run bench`).
 *
 * Starts the bench upstream and three gateways in front of it, identical but for `telemetry:`
 * (off; on at sampling ratio 1.0; on at 0.01), all exporting to an in-process OTLP/HTTP sink. Each
 * gets the same load (autocannon, BENCH_CONNECTIONS connections, tools/call) in alternating rounds
 * and a sequential 1-connection latency run; prints a table and a `BENCH_TRACING_JSON {...}` line.
 * BENCH_TRACING=steps runs only the in-process step measurement.
 * Env: BENCH_SECONDS (5) per target per round, BENCH_ROUNDS (2), BENCH_CONNECTIONS (32), BENCH_LAT_REQUESTS (300).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { request } from 'undici';
import { compileGateway } from './build.js';
import { YOUNG_GENERATION_FLAG } from '../src/cli/gc-tuning.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const num = (n: string, d: number) => (process.env[n] ? Number(process.env[n]) : d);
const SECONDS = num('BENCH_SECONDS', 5);
const ROUNDS = num('BENCH_ROUNDS', 2);
const CONNECTIONS = num('BENCH_CONNECTIONS', 32);
const LAT_REQUESTS = num('BENCH_LAT_REQUESTS', 300);
const KEY = 'bench-key-123456';
const children: ChildProcess[] = [];

/** CPU seconds a process has used (Linux /proc; 0 elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function start(args: string[], re: RegExp): Promise<{ port: number; pid: number | undefined }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = re.exec(l);
      if (m) resolve({ port: Number(m[1]), pid: child.pid });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

async function post(url: string, headers: Record<string, string>, body: unknown) {
  const r = await request(url, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
}

const call = (id: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'bench__echo', arguments: { text: 'hello from the tollgate bench' } },
});

async function session(url: string): Promise<Record<string, string>> {
  const h = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${KEY}`,
  };
  const init = await post(url, h, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
  });
  const headers = {
    ...h,
    'mcp-session-id': String(init.headers['mcp-session-id']),
    'mcp-protocol-version': '2025-11-25',
  };
  await post(url, headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
  const first = await post(url, headers, call(1));
  if (!first.text.includes('hello from the tollgate bench')) throw new Error(`tools/call failed: ${first.text}`);
  return headers;
}

interface Result {
  rps: number[];
  p50: number[];
  p99: number[];
  seqP50: number;
  seqP99: number;
  /** Gateway CPU seconds and requests completed under load (CPU per request resists a busy machine). */
  cpu: number;
  requests: number;
}

/**
 * The tracing steps alone, in this process: the MCP pipeline of three pass-through steps around a
 * final handler, off / ratio 1.0 / ratio 0.01, spans handed to an exporter that drops them. CPU ns
 * per call (process.cpuUsage), so a busy machine slows it less than it slows wall-clock numbers.
 */
async function micro(): Promise<Record<string, number>> {
  const { traceSteps } = await import('../src/telemetry/steps.js');
  const { MemoryStore } = await import('../src/limits/memory-store.js');
  const { Tracing } = await import('../src/telemetry/tracing.js');
  const { toTelemetryRuntime } = await import('../src/telemetry/config.js');
  const { telemetrySchema } = await import('../src/telemetry/schema.js');
  const pino = (await import('pino')).default;
  type Step = import('../src/relay/scope.js').McpStep;
  type Call = import('../src/relay/scope.js').McpCall;
  const pass: Step = (_c, next) => next();
  const result = { jsonrpc: '2.0' as const, id: 1, result: { content: [] } };
  const out: Record<string, number> = {};
  const N = 100_000;
  for (const ratio of [undefined, 1, 0.01]) {
    const cfg =
      ratio === undefined
        ? undefined
        : toTelemetryRuntime(telemetrySchema.parse({ otlp: { endpoint: 'http://127.0.0.1:9' }, sampling: { ratio } }));
    const drop = {
      export: (_s: unknown[], done: (r: { code: 0 }) => void) => done({ code: 0 }),
      shutdown: async () => {},
    };
    const tracing = cfg && new Tracing(cfg, pino({ level: 'silent' }), 'bench', drop);
    const steps = traceSteps(
      tracing,
      [
        ['audit', pass],
        ['policy', pass],
        ['limits', pass],
      ],
      { upstreams: [], limitsStore: new MemoryStore() },
    );
    const run = (i: number, call: Call): Promise<unknown> => {
      const s = steps[i];
      return s ? s(call, () => run(i + 1, call) as never) : Promise.resolve(result);
    };
    const once = () =>
      run(0, {
        scope: {
          agentId: 'bench',
          identity: { id: 'bench', method: 'api_key', scopes: [], claims: {} },
          trace: {
            requestId: 'r',
            traceparent: '',
            http: { at: performance.now(), traceparent: undefined, tracestate: undefined },
          },
        } as never,
        request: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'bench__echo' } },
        target: { server: 'bench', native: 'echo', kind: 'tool', canonical: 'bench__echo', args: {} },
      });
    for (let i = 0; i < N / 5; i++) await once();
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) await once();
    const c = process.cpuUsage(c0);
    out[ratio === undefined ? 'off' : `on, ratio ${ratio === 1 ? '1.0' : ratio}`] = Math.round(
      ((c.user + c.system) * 1000) / N,
    );
    await tracing?.close();
  }
  return out;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-tracing-'));
  let spans = 0;
  const sink = createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.toString().split('"spanId"').length - 1;
    });
    req.on('end', () => {
      spans += n;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  try {
    console.log(
      `host: ${cpus().length} cores, loadavg ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    const upPort = (await start(['--import', 'tsx', 'bench/upstream-server.ts'], /^LISTENING (\d+)$/)).port;
    console.log('compiling the gateway (tsc) into .bench-build/ …');
    compileGateway(ROOT);
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'policies', 'bench.yaml'),
      `agent: bench\ntools:\n  allow: ["bench__*"]\n  deny: ["bench__admin_*"]\nlimits:\n  requests: [{ limit: 1000000000, per: 1m }]\n`,
    );
    const variants: [string, string][] = [
      ['off', ''],
      ['on, ratio 1.0', `telemetry: { otlp: { endpoint: ${sinkUrl} }, sampling: { ratio: 1.0 } }\n`],
      ['on, ratio 0.01', `telemetry: { otlp: { endpoint: ${sinkUrl} }, sampling: { ratio: 0.01 } }\n`],
    ];
    const targets: {
      name: string;
      url: string;
      pid: number | undefined;
      headers: Record<string, string>;
      r: Result;
    }[] = [];
    for (const [name, telemetry] of variants) {
      const cfg = join(dir, `${targets.length}.yaml`);
      writeFileSync(
        cfg,
        `server: { host: 127.0.0.1, port: 0 }\nlog: { level: warn }\nupstreams:\n  bench: { transport: streamable_http, url: http://127.0.0.1:${upPort}/mcp }\nauth:\n  api_keys:\n    - { agent: bench, key: ${KEY} }\npolicies: { dir: policies }\naudit: { file: ${join(dir, `audit-${targets.length}.jsonl`)} }\n${telemetry}`,
      );
      const { port, pid } = await start(
        [YOUNG_GENERATION_FLAG, '.bench-build/main.js', 'serve', '--config', cfg, '--port', '0'],
        /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/i,
      );
      const url = `http://127.0.0.1:${port}/mcp`;
      targets.push({
        name,
        url,
        pid,
        headers: await session(url),
        r: { rps: [], p50: [], p99: [], seqP50: 0, seqP99: 0, cpu: 0, requests: 0 },
      });
    }
    let id = 10;
    for (const t of targets)
      await autocannon({
        url: t.url,
        connections: CONNECTIONS,
        duration: 1,
        requests: [{ method: 'POST', headers: t.headers, body: JSON.stringify(call(2)) }],
      }); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of round % 2 ? [...targets].reverse() : targets) {
        const cpu0 = cpuSeconds(t.pid);
        const r = await autocannon({
          url: t.url,
          connections: CONNECTIONS,
          duration: SECONDS,
          requests: [
            { method: 'POST', headers: t.headers, setupRequest: (q) => ({ ...q, body: JSON.stringify(call(++id)) }) },
          ],
        });
        if (r.non2xx || r.errors) console.log(`${t.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        t.r.cpu += cpuSeconds(t.pid) - cpu0;
        t.r.requests += r.requests.total;
        t.r.rps.push(r.requests.average);
        t.r.p50.push(r.latency.p50);
        t.r.p99.push(r.latency.p99);
      }
    }
    for (const t of targets) {
      const lat: number[] = [];
      for (let i = 0; i < LAT_REQUESTS; i++) {
        const t0 = performance.now();
        await post(t.url, t.headers, call(++id));
        lat.push(performance.now() - t0);
      }
      lat.sort((a, b) => a - b);
      t.r.seqP50 = lat[Math.floor(lat.length * 0.5)]!;
      t.r.seqP99 = lat[Math.floor(lat.length * 0.99)]!;
    }
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const off = targets[0]!.r;
    console.log('\ntracing overhead (tools/call through the full pipeline: audit, policy, limits)');
    console.log('target            req/s    vs off   p50 ms  p99 ms  seq p50 ms  seq p99 ms  gateway CPU µs/req');
    const json: Record<string, unknown> = {};
    for (const t of targets) {
      const rps = avg(t.r.rps);
      console.log(
        `${t.name.padEnd(16)} ${rps.toFixed(0).padStart(6)}  ${((rps / avg(off.rps) - 1) * 100).toFixed(1).padStart(6)}%  ${avg(t.r.p50).toFixed(1).padStart(6)}  ${avg(t.r.p99).toFixed(1).padStart(6)}  ${t.r.seqP50.toFixed(3).padStart(10)}  ${t.r.seqP99.toFixed(3).padStart(10)}  ${((t.r.cpu / Math.max(1, t.r.requests)) * 1e6).toFixed(0).padStart(8)}`,
      );
      json[t.name] = {
        rps: Math.round(rps),
        p50: avg(t.r.p50),
        p99: avg(t.r.p99),
        seqP50: t.r.seqP50,
        seqP99: t.r.seqP99,
        cpuUsPerReq: Math.round((t.r.cpu / Math.max(1, t.r.requests)) * 1e6),
      };
    }
    console.log(`spans received by the OTLP sink: ${spans}`);
    const steps = await micro();
    console.log('\nthe tracing steps alone (in-process, 3 pass-through steps + handler), CPU ns per call:');
    for (const [k, v] of Object.entries(steps))
      console.log(`  ${k.padEnd(16)} ${String(v).padStart(6)} ns  (+${v - steps.off!} ns)`);
    console.log(
      `BENCH_TRACING_JSON ${JSON.stringify({ connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, spans, targets: json, stepsNsPerCall: steps })}`,
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const onlySteps = process.env.BENCH_TRACING === 'steps';
(onlySteps
  ? micro().then((r) => console.log(`BENCH_TRACING_JSON ${JSON.stringify({ stepsNsPerCall: r })}`))
  : main()
).catch((err) => {
  console.error(err);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
