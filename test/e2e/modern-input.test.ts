// A 2026-07-28 agent (stateless requests, as the v2 SDK client sends them) against a 2025-era
// upstream: a tool that elicits becomes an input_required round and completes on the retry, and a
// subscriptions/listen stream receives tools/list_changed when the upstream's tools change.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, TEST_KEY } from '../helpers/gateway.js';
import { spawnListening, type Spawned } from '../helpers/spawn.js';
import type { AuditLine } from '../../src/audit/record.js';
import { nodeArgsYaml } from '../helpers/compiled.js';

const V = '2026-07-28';
type Body = { id: unknown; result?: Record<string, any>; error?: { code: number; message: string; data?: any } };
let gw: Awaited<ReturnType<typeof startGateway>>;
let upstream: Spawned;

// Over Streamable HTTP each server request names the call it belongs to, so concurrent parked
// calls stay apart (over stdio only a lone call in flight can be asked; see README).
beforeAll(async () => {
  upstream = await spawnListening(['test/fixtures/feature-server.ts', '--port', '0', '--elicit']);
  gw = await startGateway(`
upstreams:
  feat: { transport: streamable_http, url: "http://127.0.0.1:${upstream.port}/mcp" }
auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }
mcp: { input_required: { ttl: 1m, max_per_agent: 2 } }
`);
});
afterAll(async () => {
  await gw?.close();
  await upstream?.kill();
});

let nextId = 1;
function post(
  method: string,
  params: Record<string, unknown>,
  capabilities: Record<string, unknown> = { elicitation: {} },
) {
  const name = typeof params.name === 'string' ? params.name : undefined;
  return fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_KEY}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': V,
      'mcp-method': method,
      ...(name !== undefined ? { 'mcp-name': name } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: nextId++,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': V,
          'io.modelcontextprotocol/clientCapabilities': capabilities,
        },
      },
    }),
  });
}

async function call(
  method: string,
  params: Record<string, unknown>,
  capabilities?: Record<string, unknown>,
): Promise<{ status: number; body: Body }> {
  const r = await post(method, params, capabilities);
  const text = await r.text();
  // An SSE answer (progress or logs came first) ends with the response as its last data line.
  const json = r.headers.get('content-type')?.includes('event-stream')
    ? (
        text
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .pop() ?? ''
      ).slice(6)
    : text;
  return { status: r.status, body: JSON.parse(json) as Body };
}

/** Reads SSE messages off a listen stream, one at a time. */
function sseMessages(res: Response): { next: () => Promise<Record<string, any>>; cancel: () => Promise<void> } {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  const next = async () => {
    for (;;) {
      const end = buffered.indexOf('\n\n');
      if (end >= 0) {
        const frame = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (data) return JSON.parse(data.slice(6)) as Record<string, any>;
        continue; // keep-alive comment
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffered += value;
    }
  };
  return { next, cancel: () => reader.cancel() };
}

describe('2026 agents and a 2025 upstream that asks for input', () => {
  it('an eliciting tool call answers input_required, and the retry with the answer completes it', async () => {
    const first = await call('tools/call', { name: 'feat__elicit', arguments: { text: 'Who are you?' } });
    expect(first.body.result).toMatchObject({
      resultType: 'input_required',
      inputRequests: { elicitation_1: { method: 'elicitation/create', params: { message: 'Who are you?' } } },
    });
    const state = first.body.result?.requestState as string;
    expect(typeof state).toBe('string');

    const done = await call('tools/call', {
      name: 'feat__elicit',
      arguments: { text: 'Who are you?' },
      inputResponses: { elicitation_1: { action: 'accept', content: { name: 'Ada' } } },
      requestState: state,
    });
    expect(done.body.result).toMatchObject({
      resultType: 'complete',
      content: [{ type: 'text', text: 'elicited:accept:Ada' }],
    });

    // One record per round (the first says input_required), one for the agent's answer.
    const audit = readFileSync(gw.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine);
    const rounds = audit.filter((a) => a['gen_ai.tool.name'] === 'feat__elicit').map((a) => a['tollgate.outcome']);
    expect(rounds).toEqual(['input_required', 'ok']);
    expect(audit.filter((a) => a['mcp.method.name'] === 'elicitation/create')).toHaveLength(1);

    // The state is spent: replaying it is refused.
    const replay = await call('tools/call', {
      name: 'feat__elicit',
      arguments: {},
      inputResponses: {},
      requestState: state,
    });
    expect(replay.body.error?.code).toBe(-32602);
  });

  it('refuses a tampered requestState, a malformed inputResponses, and asks nothing undeclared (-32021)', async () => {
    const first = await call('tools/call', { name: 'feat__elicit', arguments: {} });
    const state = first.body.result?.requestState as string;
    const tampered = await call('tools/call', {
      name: 'feat__elicit',
      arguments: {},
      inputResponses: {},
      requestState: `${state}-TAMPERED`,
    });
    expect([tampered.body.error?.code, tampered.body.error?.message]).toEqual([
      -32602,
      'Invalid requestState: requestState failed verification',
    ]);
    const malformed = await call('tools/call', {
      name: 'feat__elicit',
      arguments: {},
      inputResponses: { elicitation_1: 42 },
      requestState: state,
    });
    expect(malformed.body.error?.code).toBe(-32602);
    // The parked call is still there: a proper retry that declines completes it.
    const declined = await call('tools/call', {
      name: 'feat__elicit',
      arguments: {},
      inputResponses: { elicitation_1: { action: 'decline' } },
      requestState: state,
    });
    expect(declined.body.result?.content).toEqual([{ type: 'text', text: 'elicited:decline:' }]);

    const undeclared = await call('tools/call', { name: 'feat__elicit', arguments: {} }, {});
    expect([undeclared.status, undeclared.body.error?.code, undeclared.body.error?.data]).toEqual([
      400,
      -32021,
      { requiredCapabilities: { elicitation: {} } },
    ]);
  });

  it('caps the calls one agent may leave waiting for input', async () => {
    const a = await call('tools/call', { name: 'feat__elicit', arguments: {} });
    const b = await call('tools/call', { name: 'feat__elicit', arguments: {} });
    const c = await call('tools/call', { name: 'feat__elicit', arguments: {} });
    expect([a.body.result?.resultType, b.body.result?.resultType, c.body.error?.code]).toEqual([
      'input_required',
      'input_required',
      -32029,
    ]);
    for (const r of [a, b]) {
      const end = await call('tools/call', {
        name: 'feat__elicit',
        arguments: {},
        inputResponses: { elicitation_1: { action: 'cancel' } },
        requestState: r.body.result?.requestState,
      });
      expect(end.body.result?.resultType).toBe('complete');
    }
  });

  it('a listen stream acknowledges what it honours, then carries tools/list_changed tagged with its id', async () => {
    const res = await post('subscriptions/listen', {
      notifications: {
        toolsListChanged: true,
        promptsListChanged: false,
        resourceSubscriptions: ['feat+mem://a', 'nope+x://y'],
      },
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const { next, cancel } = sseMessages(res);
    const ack = await next();
    const id = ack.params._meta['io.modelcontextprotocol/subscriptionId'];
    expect(ack).toMatchObject({
      method: 'notifications/subscriptions/acknowledged',
      params: { notifications: { toolsListChanged: true, resourceSubscriptions: ['feat+mem://a'] } },
    });

    await call('tools/call', { name: 'feat__touch', arguments: {} });
    expect(await next()).toMatchObject({
      method: 'notifications/resources/updated',
      params: { uri: 'feat+mem://a', _meta: { 'io.modelcontextprotocol/subscriptionId': id } },
    });
    await call('tools/call', { name: 'feat__add_tool', arguments: { text: 'fresh' } });
    expect(await next()).toMatchObject({
      method: 'notifications/tools/list_changed',
      params: { _meta: { 'io.modelcontextprotocol/subscriptionId': id } },
    });
    await cancel();
  });

  it('ends listen streams with a complete result when the gateway drains', async () => {
    const own = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
auth: { allow_anonymous: true }
`);
    const res = await fetch(`${own.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream, application/json',
        'mcp-protocol-version': V,
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'L1',
        method: 'subscriptions/listen',
        params: {
          notifications: { toolsListChanged: true },
          _meta: { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {} },
        },
      }),
    });
    const { next } = sseMessages(res);
    expect((await next()).method).toBe('notifications/subscriptions/acknowledged');
    const closing = own.close();
    expect(await next()).toMatchObject({
      id: 'L1',
      result: { resultType: 'complete', _meta: { 'io.modelcontextprotocol/subscriptionId': 'L1' } },
    });
    await closing;
  });
});
