// OpenTelemetry traces end to end: an agent's traceparent continued by the gateway's spans, which an
// in-test OTLP/HTTP receiver collects; the upstream receives the same trace (headers and _meta).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authYaml, startGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';
import { attrs, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { MockLlm } from '../fixtures/mock-llm.js';

const FIXTURE = 'test/fixtures/trace-upstream.ts';
const MALLORY = 'tg_mallory-key-0123456789abcdef';
let up: Spawned;
let otlp: OtlpReceiver;
let gw: TestGateway;
let llm: MockLlm;

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  llm = await MockLlm.start();
  up = await spawnListening([FIXTURE, '--port', '0']);
  const dir = tempDir('tollgate-trace-policies-');
  writeFileSync(
    join(dir, 'tester.yaml'),
    'agent: tester\ntools:\n  allow: ["*"]\n  deny: ["up__secret"]\nmodels:\n  allow: ["gpt-4o"]\nlimits:\n  requests: [{ limit: 100000, per: 1m }]\n',
  );
  writeFileSync(
    join(dir, 'mallory.yaml'),
    `agent: mallory\nidentities:\n  api_key_hashes: ["${hashApiKey(MALLORY)}"]\ntools:\n  allow: ["*"]\n`,
  );
  gw = await startGateway(`
upstreams:
  up: { transport: streamable_http, url: http://127.0.0.1:${up.port}/mcp }
  io: { transport: stdio, command: node, args: [${nodeArgsYaml(FIXTURE)}, --stdio] }
policies: { dir: ${dir}, watch: false }
llm:
  upstreams:
    oa: { kind: openai, base_url: "${llm.url}/v1", api_key: sk-upstream-0123456789, models: [gpt-4o] }
telemetry:
  service_name: tollgate-test
  otlp: { endpoint: ${otlp.url}, headers: { x-collector-key: "k-123" } }
  batch: { delay: 50ms }
${authYaml()}`);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await up?.kill();
  await otlp?.close();
  await llm?.close();
});

const H = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function session(key = TEST_KEY): Promise<Record<string, string>> {
  const h = { ...H, authorization: `Bearer ${key}` };
  const init = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: h,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  await init.text();
  return { ...h, 'mcp-session-id': init.headers.get('mcp-session-id')! };
}

async function call(h: Record<string, string>, name: string, extra: Record<string, unknown> = {}) {
  const r = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: h,
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: {}, ...extra } }),
  });
  return (await r.json()) as { result?: { content: { text: string }[] }; error?: { code: number } };
}

/** Every span of a trace once its request span has arrived (the gateway flushes on demand). */
async function traceOf(traceId: string): Promise<ReceivedSpan[]> {
  await waitUntil(async () => {
    await gw.gw.tracing!.flush();
    return otlp.spans.some((s) => s.traceId === traceId && s.kind === 2);
  }, 20_000);
  return otlp.spans.filter((s) => s.traceId === traceId);
}

const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans
    .filter((s) => s.parentSpanId === parent.spanId)
    .sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));

describe('traces', () => {
  it("continues the agent's traceparent: request span, its steps in order, and the upstream in the same trace", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const agentSpan = '00f067aa0ba902b7';
    const h = await session();
    const res = await call({ ...h, traceparent: `00-${traceId}-${agentSpan}-01`, tracestate: 'agent=1' }, 'up__whoami');
    const seen = JSON.parse(res.result!.content[0]!.text) as {
      traceparent: string;
      tracestate: string;
      meta: { traceparent: string; tracestate: string };
    };
    const spans = await traceOf(traceId);
    const root = spans.find((s) => s.kind === 2)!;
    expect(root.parentSpanId).toBe(agentSpan);
    expect(root.name).toBe('tools/call up__whoami');
    expect(root.resource['service.name']).toBe('tollgate-test');
    expect(attrs(root)).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'up__whoami',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.agent.id': 'tester',
      'tollgate.decision': 'allowed',
      'tollgate.upstream.name': 'up',
    });
    expect(attrs(root)['mcp.session.id']).toMatch(/^[0-9a-f]{16}$/); // the short form, as in the audit
    const children = childrenOf(spans, root);
    expect(children.map((s) => s.name)).toEqual([
      'authenticate',
      'policy',
      'approvals',
      'limits',
      'tools/call whoami',
      'limits settle',
      'audit write',
    ]);
    // The limits span says how long the limits store took (Redis round trips with limits.store: redis).
    expect(attrs(children[3]!)['tollgate.limits.store_ops']).toBeGreaterThan(0);
    expect(attrs(children[3]!)['tollgate.limits.store_ms']).toBeGreaterThanOrEqual(0);
    const client = children.find((s) => s.kind === 3)!;
    expect(attrs(client)).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': up.port,
      'tollgate.upstream.transport': 'streamable_http',
      'tollgate.upstream.replica': 0,
    });
    // The upstream got our CLIENT span as its parent, in the header and in params._meta.
    const ours = `00-${traceId}-${client.spanId}-01`;
    expect(seen.traceparent).toBe(ours);
    expect(seen.meta.traceparent).toBe(ours);
    expect(seen.tracestate).toBe('agent=1');
    expect(seen.meta.tracestate).toBe('agent=1');
    expect(otlp.headers.at(-1)?.['x-collector-key']).toBe('k-123');
  });

  it('reads the trace context from params._meta, and passes it to stdio upstreams in _meta', async () => {
    const traceId = 'aaf92f3577b34da6a3ce929d0e0e4736';
    const h = await session();
    const res = await call(h, 'io__whoami', { _meta: { traceparent: `00-${traceId}-1111111111111111-01` } });
    const seen = JSON.parse(res.result!.content[0]!.text) as { meta: { traceparent: string } };
    const spans = await traceOf(traceId);
    const root = spans.find((s) => s.kind === 2)!;
    expect(root.parentSpanId).toBe('1111111111111111');
    const client = spans.find((s) => s.kind === 3)!;
    expect(attrs(client)).toMatchObject({ 'tollgate.upstream.transport': 'stdio', 'network.transport': 'pipe' });
    expect(seen.meta.traceparent).toBe(`00-${traceId}-${client.spanId}-01`);
  });

  it('a stateless 2026-07-28 request: trace context in its _meta envelope, continued to the HTTP upstream', async () => {
    const traceId = 'abf92f3577b34da6a3ce929d0e0e4736';
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: {
        ...H,
        authorization: `Bearer ${TEST_KEY}`,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'up__whoami',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: {
          name: 'up__whoami',
          arguments: {},
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': {},
            'io.modelcontextprotocol/clientInfo': { name: 'modern-agent', version: '2.0.0' },
            traceparent: `00-${traceId}-6666666666666666-01`,
            tracestate: 'modern=1',
          },
        },
      }),
    });
    const body = (await r.json()) as { result: { content: { text: string }[] } };
    const seen = JSON.parse(body.result.content[0]!.text) as { traceparent: string; meta: { traceparent: string } };
    const spans = await traceOf(traceId);
    const root = spans.find((s) => s.kind === 2)!;
    expect(root.parentSpanId).toBe('6666666666666666');
    expect(root.traceState).toBe('modern=1');
    const client = spans.find((s) => s.kind === 3)!;
    expect(seen.traceparent).toBe(`00-${traceId}-${client.spanId}-01`);
    expect(seen.meta.traceparent).toBe(`00-${traceId}-${client.spanId}-01`);
  });

  it('a denied call: the request span carries the decision, and there is no upstream span', async () => {
    const traceId = 'bbf92f3577b34da6a3ce929d0e0e4736';
    const h = await session();
    const before = JSON.parse((await call(h, 'up__calls')).result!.content[0]!.text).calls as number;
    const res = await call({ ...h, traceparent: `00-${traceId}-2222222222222222-01` }, 'up__secret');
    expect(res.error?.code).toBe(-32041);
    const spans = await traceOf(traceId);
    const root = spans.find((s) => s.kind === 2)!;
    expect(attrs(root)).toMatchObject({
      'tollgate.decision': 'denied',
      'rpc.response.status_code': '-32041',
      'gen_ai.tool.name': 'up__secret',
    });
    expect(root.status.code).toBe(2);
    expect(childrenOf(spans, root).map((s) => s.name)).toEqual(['authenticate', 'policy', 'audit write']);
    expect(attrs(childrenOf(spans, root)[1]!)).toMatchObject({ 'tollgate.decision': 'denied' });
    expect(spans.some((s) => s.kind === 3)).toBe(false);
    const after = JSON.parse((await call(h, 'up__calls')).result!.content[0]!.text).calls as number;
    expect(after).toBe(before + 1); // only the second `calls` reached it
  });

  it('hostile trace context is ignored: a malformed traceparent starts a new trace, an oversized tracestate is dropped', async () => {
    const h = await session(MALLORY);
    const bad = ['00-00000000000000000000000000000000-1111111111111111-01', `ff-${'a'.repeat(52)}`, 'x'.repeat(5000)];
    for (const traceparent of bad) {
      const res = await call({ ...h, traceparent }, 'up__whoami');
      const seen = JSON.parse(res.result!.content[0]!.text) as { traceparent: string };
      expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(seen.traceparent).not.toContain('0000000000000000000000000000000');
    }
    const traceId = 'ccf92f3577b34da6a3ce929d0e0e4736';
    const res = await call(
      { ...h, traceparent: `00-${traceId}-3333333333333333-01`, tracestate: `a=${'x'.repeat(600)}` },
      'up__whoami',
    );
    expect(JSON.parse(res.result!.content[0]!.text).tracestate).toBeNull();
    const root = (await traceOf(traceId)).find((s) => s.kind === 2)!;
    expect(root.traceState).toBeUndefined();
    expect(attrs(root)['gen_ai.agent.id']).toBe('mallory');
  });

  it('a request refused before any MCP request (401) still gets a span, with its status, in a trace of its own', async () => {
    const traceId = 'ddf92f3577b34da6a3ce929d0e0e4736';
    const before = new Set(otlp.spans.map((s) => s.spanId));
    const r = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...H, authorization: 'Bearer wrong-key-0123456789', traceparent: `00-${traceId}-4444444444444444-01` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(r.status).toBe(401);
    // A caller that did not authenticate does not join (or steer the sampling of) the trace it names.
    const isIt = (s: ReceivedSpan) =>
      !before.has(s.spanId) && s.kind === 2 && attrs(s)['http.response.status_code'] === 401;
    await waitUntil(async () => {
      await gw.gw.tracing!.flush();
      return otlp.spans.some(isIt);
    }, 20_000);
    const root = otlp.spans.find(isIt)!;
    expect(root.traceId).not.toBe(traceId);
    expect(root.parentSpanId ?? '').toBe('');
    const spans = otlp.spans.filter((s) => s.traceId === root.traceId);
    expect(spans.map((s) => s.name).sort()).toEqual(['POST /mcp', 'authenticate']);
  });

  it('an LLM call is a GenAI span: operation, model, token counts, and its upstream try', async () => {
    const traceId = 'eef92f3577b34da6a3ce929d0e0e4736';
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_KEY}`,
        traceparent: `00-${traceId}-5555555555555555-01`,
      },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
    });
    expect(r.status).toBe(200);
    await r.text();
    const spans = await traceOf(traceId);
    const root = spans.find((s) => s.kind === 2)!;
    expect(root.name).toBe('chat gpt-4o');
    expect(root.parentSpanId).toBe('5555555555555555');
    expect(attrs(root)).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 7,
      'gen_ai.agent.id': 'tester',
      'tollgate.decision': 'allowed',
    });
    expect(childrenOf(spans, root).map((s) => [s.name, s.kind])).toEqual([
      ['authenticate', 1],
      ['chat gpt-4o', 3],
    ]);
  });
});
