/**
 * Soak test: `npm run soak` (not part of `npm test`).
 *
 * Starts the mock LLM (test/fixtures/mock-llm.ts, in this process) and a Tollgate gateway from the
 * CLI as a child process on 127.0.0.1 (a stdio MCP upstream, the mock behind /v1, audit to a temp
 * file): only the gateway's memory and event loop are measured. Then, for
 * SOAK_SECONDS (180), drives mixed traffic: SOAK_MCP_CLIENTS (8) SDK clients each looping over
 * tools/list, a tools/call, and a notification-heavy call (progress on every step), and
 * SOAK_LLM_CLIENTS (4) `openai` clients alternating JSON and streaming chat completions. Every
 * SOAK_SAMPLE_SECONDS (5) it scrapes the gateway's /metrics: RSS, heap used, and event-loop delay
 * (prom-client's monitorEventLoopDelay, reset at each scrape). It reports memory growth (mean of
 * the first vs the last minute, or thirds when shorter), event-loop delay p50/p99/max, requests and
 * errors by kind. Exits 1 if any request failed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connect } from '../test/helpers/client.js';
import { spawnListening, type Spawned } from '../test/helpers/spawn.js';
import { MockLlm } from '../test/fixtures/mock-llm.js';

const num = (name: string, d: number): number => (process.env[name] ? Number(process.env[name]) : d);
const SECONDS = num('SOAK_SECONDS', 180);
const MCP_CLIENTS = num('SOAK_MCP_CLIENTS', 8);
const LLM_CLIENTS = num('SOAK_LLM_CLIENTS', 4);
const SAMPLE_MS = num('SOAK_SAMPLE_SECONDS', 5) * 1000;
const KEY = 'soak-key-0123456789';

interface Sample {
  t: number;
  rss: number;
  heap: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
}

const counts = new Map<string, number>();
const errors = new Map<string, number>();
const count = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);

/** Runs `op` until the deadline, counting successes under `kind` and failures by error. */
async function loop(kind: string, deadline: number, op: () => Promise<unknown>): Promise<void> {
  while (Date.now() < deadline) {
    try {
      await op();
      count(counts, kind);
    } catch (err) {
      const e = err as { code?: number; status?: number; message?: string };
      count(errors, `${kind}: ${e.code ?? e.status ?? ''} ${(e.message ?? String(err)).slice(0, 80)}`);
    }
  }
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function sample(url: string, t0: number): Promise<Sample> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    t: (Date.now() - t0) / 1000,
    rss: metric(text, 'tollgate_process_process_resident_memory_bytes'),
    heap: metric(text, 'tollgate_process_nodejs_heap_size_used_bytes'),
    lagP50: metric(text, 'tollgate_process_nodejs_eventloop_lag_p50_seconds'),
    lagP99: metric(text, 'tollgate_process_nodejs_eventloop_lag_p99_seconds'),
    lagMax: metric(text, 'tollgate_process_nodejs_eventloop_lag_max_seconds'),
  };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
const ms = (s: number): string => `${(s * 1000).toFixed(1)} ms`;
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;

async function main(): Promise<void> {
  const spawned: Spawned[] = [];
  process.on('exit', () => spawned.forEach((s) => s.child.kill('SIGKILL')));
  const mock = await MockLlm.start(0);
  mock.requests.push = () => 0; // no request log: keep this process flat too
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-soak-'));
  writeFileSync(
    join(dir, 'tollgate.yaml'),
    `upstreams:\n  feat: { transport: stdio, command: node, args: [--import, tsx, test/fixtures/feature-server.ts, --stdio], cwd: ${process.cwd()} }\n` +
      `auth: { api_keys: [{ agent: soak, key: ${KEY} }] }\naudit: { file: ${join(dir, 'audit.jsonl')} }\nlog: { level: warn }\n` +
      `llm:\n  upstreams:\n    mock: { kind: openai, base_url: "${mock.url}/v1", api_key: sk-mock, models: [gpt-4o-mini] }\n`,
  );
  const gw = await spawnListening(['bin/tollgate.mjs', 'serve', '--config', join(dir, 'tollgate.yaml'), '--port', '0']);
  spawned.push(gw);
  const url = `http://127.0.0.1:${gw.port}`;
  console.log(
    `soak: ${SECONDS} s, ${MCP_CLIENTS} MCP + ${LLM_CLIENTS} LLM clients, gateway pid ${gw.child.pid}, audit ${dir}/audit.jsonl`,
  );

  const clients: Client[] = await Promise.all(
    Array.from({ length: MCP_CLIENTS }, () => connect(`${url}/mcp`, { key: KEY })),
  );
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 });
  const t0 = Date.now();
  const deadline = t0 + SECONDS * 1000;
  const samples: Sample[] = [];
  await sample(url, t0); // resets the event-loop histogram: what follows is under load
  const sampler = setInterval(
    () =>
      void sample(url, t0).then(
        (s) => samples.push(s),
        () => count(errors, 'metrics scrape'),
      ),
    SAMPLE_MS,
  );

  let n = 0;
  await Promise.all([
    ...clients.map((c) =>
      loop('mcp rounds (list, call, call with 5 progress)', deadline, async () => {
        await c.listTools();
        await c.callTool({ name: 'feat__echo', arguments: { text: `soak ${n++}` } });
        await c.callTool({ name: 'feat__slow', arguments: { ms: 20 } }, undefined, {
          onprogress: () => count(counts, 'mcp progress notifications'),
        });
      }),
    ),
    ...Array.from({ length: LLM_CLIENTS }, (_, i) =>
      loop(i % 2 ? 'llm stream' : 'llm json', deadline, async () => {
        const messages = [{ role: 'user' as const, content: 'hello' }];
        if (i % 2 === 0) return openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
        const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
        for await (const _chunk of stream) void _chunk;
      }),
    ),
  ]);
  clearInterval(sampler);
  samples.push(await sample(url, t0));
  await Promise.all(clients.map((c) => c.close()));

  const window = Math.min(60, SECONDS / 3);
  const first = samples.filter((s) => s.t <= window);
  const last = samples.filter((s) => s.t >= SECONDS - window);
  const growth = (k: 'rss' | 'heap'): string =>
    `${mib(mean(first.map((s) => s[k])))} → ${mib(mean(last.map((s) => s[k])))} (${mean(last.map((s) => s[k])) >= mean(first.map((s) => s[k])) ? '+' : ''}${mib(mean(last.map((s) => s[k])) - mean(first.map((s) => s[k])))})`;
  console.log(
    `\nmemory (mean of first vs last ${window.toFixed(0)} s): RSS ${growth('rss')}, heap used ${growth('heap')}`,
  );
  console.log(
    `event-loop delay per ${SAMPLE_MS / 1000} s window (includes prom-client's 10 ms sampling resolution): p50 median ${ms(
      pct(
        samples.map((s) => s.lagP50),
        0.5,
      ),
    )}, p99 median ${ms(
      pct(
        samples.map((s) => s.lagP99),
        0.5,
      ),
    )} / worst ${ms(Math.max(...samples.map((s) => s.lagP99)))}, max ${ms(Math.max(...samples.map((s) => s.lagMax)))}`,
  );
  console.log(
    'requests:',
    Object.fromEntries(counts),
    `(${((counts.get('mcp rounds (list, call, call with 5 progress)') ?? 0) / SECONDS).toFixed(0)} MCP rounds/s)`,
  );
  console.log('errors:', errors.size ? Object.fromEntries(errors) : 'none');
  for (const s of spawned) await s.kill();
  await mock.close();
  process.exit(errors.size ? 1 : 0);
}

await main();
