// MCP 2026-07-28 agents on the same /mcp endpoint: stateless requests with their own envelope,
// mirrored headers checked against the body, 2025-era upstreams behind.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, TEST_KEY } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import type { AuditLine } from '../../src/audit/record.js';
import { nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

const V = '2026-07-28';
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  const dir = tempDir('tollgate-modern-');
  writeFileSync(
    join(dir, 'tester.yaml'),
    'agent: tester\ntools: { allow: ["feat__*"], deny: ["feat__crash"] }\nresources: { allow: ["*"] }\n',
  );
  gw = await startGateway(`
upstreams:
  feat: { transport: stdio, command: node, args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio] }
auth: { api_keys: [{ agent: tester, key: ${TEST_KEY} }] }
policies: { dir: ${dir} }
`);
});
afterAll(() => gw?.close());

const envelope = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'modern-agent', version: '2.0.0' },
  ...extra,
});

async function call(
  method: string,
  params: Record<string, unknown>,
  opts: { headers?: Record<string, string>; meta?: Record<string, unknown>; accept?: string } = {},
) {
  const name = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
  const headers: Record<string, string> = {
    authorization: `Bearer ${TEST_KEY}`,
    'content-type': 'application/json',
    accept: opts.accept ?? 'application/json, text/event-stream',
    'mcp-protocol-version': V,
    'mcp-method': method,
    ...(name !== undefined ? { 'mcp-name': name } : {}),
    ...opts.headers,
  };
  const r = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: { ...params, _meta: opts.meta ?? envelope() } }),
  });
  const text = await r.text();
  return {
    status: r.status,
    headers: r.headers,
    text,
    body: r.headers.get('content-type')?.includes('json')
      ? (JSON.parse(text) as {
          id: unknown;
          result?: Record<string, any>;
          error?: { code: number; message: string; data?: any };
        })
      : undefined,
  };
}

describe('2026-07-28 agents', () => {
  it('discover: policy-filtered capabilities, serverInfo in _meta, private cache hints, no session', async () => {
    const r = await call('server/discover', {});
    expect(r.status).toBe(200);
    expect(r.headers.get('mcp-session-id')).toBeNull();
    expect(r.body?.result).toMatchObject({
      supportedVersions: [V],
      resultType: 'complete',
      ttlMs: 0,
      cacheScope: 'private',
      _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'tollgate' } },
    });
    expect(r.body?.result?.capabilities).toHaveProperty('tools');
    expect(r.body?.result?.capabilities).not.toHaveProperty('prompts'); // the fixture offers none
  });

  it('lists and calls through the pipeline: namespacing, policy, cache hints', async () => {
    const list = await call('tools/list', {});
    expect(list.body?.result).toMatchObject({ cacheScope: 'private', ttlMs: 0, resultType: 'complete' });
    const names = ((list.body?.result?.tools ?? []) as { name: string }[]).map((t) => t.name);
    expect(names).toContain('feat__echo');
    expect(names).not.toContain('feat__crash');
    const ok = await call('tools/call', { name: 'feat__echo', arguments: { text: 'now' } });
    expect(ok.body?.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'feat:now' }] });
    const denied = await call('tools/call', { name: 'feat__crash', arguments: {} });
    expect(denied.body?.error?.code).toBe(-32041);
    const audit = readFileSync(gw.auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine);
    expect(audit.find((a) => a['gen_ai.tool.name'] === 'feat__echo')).toMatchObject({
      'gen_ai.agent.id': 'tester',
      'mcp.session.id': null,
      'tollgate.decision': 'allowed',
    });
  });

  it('rejects headers that disagree with the body (400, -32020, id echoed)', async () => {
    const wrongName = await call(
      'tools/call',
      { name: 'feat__echo', arguments: {} },
      { headers: { 'mcp-name': 'feat__other' } },
    );
    expect([wrongName.status, wrongName.body?.error?.code, wrongName.body?.id]).toEqual([400, -32020, 7]);
    const wrongMethod = await call('tools/list', {}, { headers: { 'mcp-method': 'tools/call' } });
    expect([wrongMethod.status, wrongMethod.body?.error?.code]).toEqual([400, -32020]);
    const noVersion = await call('tools/list', {}, { headers: { 'mcp-protocol-version': '' } });
    expect([noVersion.status, noVersion.body?.error?.code]).toEqual([400, -32020]);
    const encoded = await call(
      'tools/call',
      { name: 'feat__echo', arguments: { text: 'b64' } },
      { headers: { 'mcp-name': `=?base64?${Buffer.from('feat__echo').toString('base64')}?=` } },
    );
    expect(encoded.status).toBe(200);
  });

  it('names unsupported versions (-32022) and missing envelope parts (-32602)', async () => {
    const future = await call(
      'tools/list',
      {},
      {
        meta: envelope({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }),
        headers: { 'mcp-protocol-version': '2099-01-01' },
      },
    );
    expect([future.status, future.body?.error?.code]).toEqual([400, -32022]);
    expect(future.body?.error?.data).toEqual({ supported: [V], requested: '2099-01-01' });
    const noCaps = await call('tools/list', {}, { meta: { 'io.modelcontextprotocol/protocolVersion': V } });
    expect([noCaps.status, noCaps.body?.error?.code]).toEqual([400, -32602]);
  });

  it('answers 2025-only methods as unknown: 404 with -32601', async () => {
    for (const method of ['ping', 'logging/setLevel', 'resources/subscribe']) {
      const r = await call(method, {});
      expect([method, r.status, r.body?.error?.code]).toEqual([method, 404, -32601]);
    }
  });

  it('relays log messages only when the request asks, at its level', async () => {
    const quiet = await call('tools/call', { name: 'feat__log', arguments: {} });
    expect(quiet.headers.get('content-type')).toContain('application/json');
    const loud = await call(
      'tools/call',
      { name: 'feat__log', arguments: {} },
      { meta: envelope({ 'io.modelcontextprotocol/logLevel': 'info' }) },
    );
    expect(loud.headers.get('content-type')).toBe('text/event-stream');
    expect(loud.text).toContain('feat log line');
    expect(loud.text).not.toContain('debug line');
  });

  it('serves 2025 clients on the same endpoint at the same time', async () => {
    const old = await connect(`${gw.url}/mcp`);
    expect((await old.listTools()).tools.map((t) => t.name)).toContain('feat__echo');
    await old.close();
  });
});
