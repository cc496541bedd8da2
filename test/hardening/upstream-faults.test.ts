// Hardening: upstreams that answer garbage, too much, forever, or too slowly, and stdio servers that
// print junk or die mid-call. The agent must get a clear JSON-RPC error in bounded time, the gateway's
// memory must stay bounded, the upstream's connections must be released, and the others keep working.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { authYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { waitUntil } from '../helpers/wait.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const REQUEST_TIMEOUT_MS = 2000;
const POOL = 4;

let bad: Spawned;
let gw: TestGateway & { auditFile: string };
let client: Client;

interface Outcome {
  ok: boolean;
  code?: number;
  message: string;
  ms: number;
  /** Peak RSS growth of this process (the gateway runs in it) during the call, in MiB. */
  rssPeakMiB: number;
}

/** Calls a tool; never throws. Samples RSS while the call runs. */
async function call(name: string, args: Record<string, unknown> = {}): Promise<Outcome> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const t0 = Date.now();
  try {
    const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as CallToolResult;
    return {
      ok: true,
      message: (r.content[0] as { text: string }).text,
      ms: Date.now() - t0,
      rssPeakMiB: (peak - base) / 2 ** 20,
    };
  } catch (err) {
    const e = err as { code?: number; message: string };
    return { ok: false, code: e.code, message: e.message, ms: Date.now() - t0, rssPeakMiB: (peak - base) / 2 ** 20 };
  } finally {
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
  }
}

type Stats = Record<string, { started: number; open: number; lastWritten: number; lastCut: boolean; lastMs: number }>;
const stats = async (): Promise<Stats> => (await (await fetch(`http://127.0.0.1:${bad.port}/stats`)).json()) as Stats;
const upstream = (name: string) => gw.gw.upstreams.find((u) => u.name === name)!;
const report = (label: string, o: Outcome) =>
  console.log(
    `[hardening] ${label}: ${o.ok ? 'ok' : `error ${o.code}`} in ${o.ms} ms, RSS peak +${o.rssPeakMiB.toFixed(0)} MiB — ${o.message.slice(0, 140)}`,
  );

beforeAll(async () => {
  bad = await spawnListening(['test/fixtures/bad-http-server.ts']);
  gw = await startGateway(
    `
upstreams:
  bad:
    transport: streamable_http
    url: "http://127.0.0.1:${bad.port}/mcp"
    connections: ${POOL}
    timeouts: { request: ${REQUEST_TIMEOUT_MS}ms, max_total: 20s }
  big: # the huge answers: the cap must cut them, not the request timeout (32 MiB take seconds on a busy machine)
    transport: streamable_http
    url: "http://127.0.0.1:${bad.port}/mcp"
    timeouts: { request: 60s, max_total: 2m }
  small:
    transport: streamable_http
    url: "http://127.0.0.1:${bad.port}/mcp"
    max_response_bytes: 1048576
    timeouts: { request: ${REQUEST_TIMEOUT_MS}ms, max_total: 20s }
  chatty: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/bad-stdio-server.ts')}], cwd: ${resolve('.')} }
${authYaml()}admin: { tokens: ["\${TOLLGATE_ADMIN_TOKEN}"] }
metrics: { token: "\${TOLLGATE_METRICS_TOKEN}" }
`,
    { TOLLGATE_ADMIN_TOKEN: 'admin-secret-0123456789', TOLLGATE_METRICS_TOKEN: 'metrics-secret-0123456789' },
  );
  client = await connect(`${gw.url}/mcp`);
});

let closed = false;
afterAll(async () => {
  await client?.close();
  await bad?.kill(); // first: a gateway whose close() waits on a never-ending upstream response then finishes
  if (!closed) await gw?.close();
});

describe('a Streamable HTTP upstream that misbehaves', () => {
  it('answering invalid JSON: -32052 (bad response, not unavailable) at once, and the upstream stays usable', async () => {
    const o = await call('bad__invalid_json');
    report('invalid JSON body', o);
    expect(o.ok).toBe(false);
    expect(o.code).toBe(-32052);
    expect(o.message).toMatch(/invalid JSON-RPC/);
    expect(o.ms).toBeLessThan(REQUEST_TIMEOUT_MS);
    const s = await call('bad__invalid_sse');
    report('invalid JSON in an SSE event', s);
    expect(s.ok).toBe(false);
    expect(s.code).toBe(-32052);
    expect(s.message).toMatch(/invalid message/);
    expect(s.ms).toBeLessThan(REQUEST_TIMEOUT_MS);
    expect(upstream('bad').state).toBe('ready');
    expect((await call('bad__ok')).message).toBe('ok');
  });

  it('a JSON response far over 32 MiB (1 GiB streamed) is cut at the cap: clear error, bounded memory, connection dropped', async () => {
    const o = await call('big__huge_json', { mb: 1024 });
    report('1 GiB JSON response', o);
    const s = (await stats()).huge_json!;
    console.log(
      `[hardening] huge_json: upstream wrote ${(s.lastWritten / 2 ** 20).toFixed(0)} MiB before the gateway hung up (cut: ${s.lastCut}, ${s.lastMs} ms)`,
    );
    expect(o.ok).toBe(false);
    expect(o.code).toBe(-32052);
    expect(o.message).toMatch(/exceeds 33554432 bytes \(upstreams\.big\.max_response_bytes\)/);
    expect(o.rssPeakMiB).toBeLessThan(128);
    expect(s.lastCut).toBe(true);
    expect(s.lastWritten).toBeLessThan(256 * 2 ** 20);
    expect((await call('bad__ok')).message).toBe('ok');
  });

  it('an SSE event far over 32 MiB (256 MiB, no newline) is cut too: clear error, bounded memory, connection dropped', async () => {
    const o = await call('big__huge_sse', { mb: 256 });
    report('256 MiB SSE event', o);
    await waitUntil(async () => (await stats()).huge_sse!.open === 0, 5000).catch(() => undefined);
    const s = (await stats()).huge_sse!;
    console.log(
      `[hardening] huge_sse: upstream wrote ${(s.lastWritten / 2 ** 20).toFixed(0)} MiB (cut by the gateway: ${s.lastCut}, ${s.lastMs} ms)`,
    );
    expect(o.ok).toBe(false);
    expect(o.code).toBe(-32052);
    expect(o.message).toMatch(/exceeds 33554432 bytes/);
    expect(o.rssPeakMiB, 'RSS growth while relaying a 256 MiB SSE event (MiB)').toBeLessThan(128);
    expect(s.lastCut, 'the gateway stops reading at the cap').toBe(true);
    expect(s.lastWritten).toBeLessThan(128 * 2 ** 20);
  }, 60_000);

  it('the cap is per upstream (max_response_bytes): 1 MiB refuses a 2 MiB answer, JSON or SSE, and smaller answers still pass', async () => {
    for (const tool of ['small__huge_json', 'small__huge_sse']) {
      const o = await call(tool, { mb: 2 });
      report(`2 MiB answer under a 1 MiB cap (${tool})`, o);
      expect(o.ok).toBe(false);
      expect(o.code).toBe(-32052);
      expect(o.message).toMatch(/exceeds 1048576 bytes \(upstreams\.small\.max_response_bytes\)/);
    }
    expect((await call('small__ok')).message).toBe('ok');
    expect(upstream('small').state).toBe('ready');
  });

  it('a never-ending SSE response ends at the request timeout with -32001, and the upstream stream is released', async () => {
    const o = await call('bad__sse_forever');
    report('never-ending SSE', o);
    expect(o.ok).toBe(false);
    expect(o.code).toBe(-32001);
    expect(o.ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(o.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1500);
    const released = await waitUntil(async () => (await stats()).sse_forever!.open === 0, 3000).then(
      () => true,
      () => false,
    );
    expect(
      released,
      `upstream SSE streams still open 3 s after the timeout: ${(await stats()).sse_forever!.open}`,
    ).toBe(true);
  });

  it('a slow-loris upstream (headers, then a byte a second) ends at the request timeout with -32001, and the connection is released', async () => {
    const o = await call('bad__slow_body');
    report('slow-loris upstream body', o);
    expect(o.ok).toBe(false);
    expect(o.code).toBe(-32001);
    expect(o.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1500);
    const released = await waitUntil(async () => (await stats()).slow_body!.open === 0, 3000).then(
      () => true,
      () => false,
    );
    expect(released, 'slow upstream response still being read 3 s after the timeout').toBe(true);
  });

  it('an upstream that never sends headers ends at the request timeout with -32001, and the connection is released', async () => {
    const o = await call('bad__no_headers');
    report('no response headers', o);
    expect(o.ok).toBe(false);
    expect(o.code).toBe(-32001);
    expect(o.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1500);
    const released = await waitUntil(async () => (await stats()).no_headers!.open === 0, 3000).then(
      () => true,
      () => false,
    );
    expect(released, 'request without response still open 3 s after the timeout').toBe(true);
  });

  it(`timed-out calls do not starve the upstream's pool (${POOL} connections): after ${POOL + 1} of them a normal call still answers`, async () => {
    const outcomes = await Promise.all(Array.from({ length: POOL + 1 }, () => call('bad__sse_forever')));
    expect(outcomes.every((o) => o.code === -32001)).toBe(true);
    const o = await call('bad__ok');
    report(`ok after ${POOL + 1} timed-out streams`, o);
    const s = await stats();
    expect(
      o.ok,
      `normal call after timeouts (upstream responses still open: ${Object.entries(s)
        .map(([k, v]) => `${k}=${v.open}`)
        .join(', ')})`,
    ).toBe(true);
  });
});

describe('a stdio upstream that misbehaves', () => {
  const pidOf = (o: Outcome) => /^pid (\d+):/.exec(o.message)?.[1];

  it('garbage lines between valid messages: the valid ones still work, the process is not restarted', async () => {
    expect(upstream('chatty').state).toBe('ready');
    const first = await call('chatty__echo', { text: 'one' });
    expect(first.message).toMatch(/^pid \d+: one$/);
    for (let i = 0; i < 20; i++) {
      const o = await call('chatty__echo', { text: `n${i}` });
      expect(o.message).toBe(`pid ${pidOf(first)}: n${i}`);
    }
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['chatty__echo', 'chatty__die']));
  });

  it("a stdio server (untrusted code) does not inherit the gateway's own secrets from its environment", async () => {
    // The admin and metrics tokens come from the gateway's environment (as README recommends); an
    // upstream process must get its configured `env`, not the gateway's credentials.
    const seen: string[] = [];
    for (const name of ['TOLLGATE_ADMIN_TOKEN', 'TOLLGATE_METRICS_TOKEN']) {
      if ((await call('chatty__env_has', { text: name })).message === 'yes') seen.push(name);
    }
    expect(seen, 'gateway secrets visible to the stdio upstream').toEqual([]);
  });

  it('a server that dies mid-call: a clear error at once (not a timeout), then it is restarted and works', async () => {
    const before = pidOf(await call('chatty__echo', { text: 'x' }));
    const o = await call('chatty__die');
    report('stdio server exits mid-call', o);
    expect(o.ok).toBe(false);
    expect(o.code).toBe(-32050);
    expect(o.message).toMatch(/exited|connection lost/);
    // Failed when the process died, not when the request timeout (60 s) would have ended it.
    expect(o.ms).toBeLessThan(30_000);
    const t0 = Date.now();
    await waitUntil(
      () => upstream('chatty').state === 'ready' && upstream('chatty').catalog.tools.some((t) => t.name === 'echo'),
      15_000,
    );
    const after = await call('chatty__echo', { text: 'back' });
    console.log(`[hardening] stdio server restarted and answering after ${Date.now() - t0} ms`);
    expect(after.message).toMatch(/^pid \d+: back$/);
    expect(pidOf(after)).not.toBe(before);
  });

  it('a server that writes half an answer and dies: a clear error, then it is restarted and works', async () => {
    await waitUntil(() => upstream('chatty').state === 'ready', 15_000);
    const o = await call('chatty__die_partial');
    report('stdio server dies after half a line', o);
    expect(o.ok).toBe(false);
    expect(o.code).toBe(-32050);
    expect(o.ms).toBeLessThan(30_000); // when the process died, not at the request timeout (60 s)
    // Restarted: ready, and its catalog listed again (a call before that is an unknown tool).
    await waitUntil(
      () => upstream('chatty').state === 'ready' && upstream('chatty').catalog.tools.some((t) => t.name === 'echo'),
      15_000,
    );
    expect((await call('chatty__echo', { text: 'again' })).message).toMatch(/^pid \d+: again$/);
  });
});

describe('after the faults', () => {
  it('the gateway is healthy and every failed call is in an intact audit log', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const v = await verifyAudit(gw.auditFile);
    expect(v.ok, JSON.stringify(v.firstBroken)).toBe(true);
    const calls = readFileSync(gw.auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r['mcp.method.name'] === 'tools/call');
    const failed = calls.filter((r) => r['tollgate.outcome'] !== 'ok');
    for (const tool of [
      'bad__invalid_json',
      'big__huge_json',
      'bad__sse_forever',
      'bad__slow_body',
      'bad__no_headers',
      'chatty__die',
    ]) {
      expect(
        failed.some((r) => r['gen_ai.tool.name'] === tool),
        `audit record for the failed ${tool} call`,
      ).toBe(true);
    }
    expect(
      failed
        .filter((r) => r['gen_ai.tool.name'] === 'bad__sse_forever')
        .every((r) => r['tollgate.outcome'] === 'timeout'),
    ).toBe(true);
  });

  it('shuts down within 5 s although upstream responses are still open (a never-ending SSE stream)', async () => {
    await client.close();
    const stuck = call('bad__sse_forever'); // one more, in flight during shutdown
    void stuck;
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const done = await Promise.race([
      gw.close().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 5000)),
    ]);
    closed = done;
    console.log(
      `[hardening] gateway close() with open upstream streams: ${done ? `done in ${Date.now() - t0} ms` : 'not done after 5 s'}`,
    );
    expect(done, 'Gateway.close() finished within 5 s').toBe(true);
  }, 15_000);
});
