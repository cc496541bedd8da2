// The audit log as an operator reads it after agents used the gateway: one record per decision,
// every field present, secrets redacted, written before the agent saw the answer.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, TEST_KEY } from '../helpers/gateway.js';
import { connect } from '../helpers/client.js';
import { AUDIT_FIELDS, type AuditLine } from '../../src/audit/record.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { nodeArgs, nodeArgsYaml } from '../helpers/compiled.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
let gw: Awaited<ReturnType<typeof startGateway>>;
let client: Client;
const dir = tempDir('tollgate-audit-policies-');
const records = (): AuditLine[] =>
  readFileSync(gw.auditFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditLine);
const last = (): AuditLine => records().at(-1)!;

beforeAll(async () => {
  writeFileSync(join(dir, 'tester.yaml'), `agent: tester\ntools:\n  allow: ["feat__*"]\n  deny: ["feat__crash"]\n`);
  gw = await startGateway(`
upstreams:
  feat:
    transport: stdio
    command: node
    args: [${nodeArgsYaml('test/fixtures/feature-server.ts')}, --stdio]
    timeouts: { request: 300ms }
auth:
  api_keys: [{ agent: tester, key: ${TEST_KEY} }]
policies: { dir: ${dir} }
`);
  client = await connect(`${gw.url}/mcp`, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    role: 'assistant',
    model: 'm',
    content: { type: 'text', text: 'fine' },
  }));
});
afterAll(async () => {
  await client?.close();
  await gw?.close();
});

describe('audit log', () => {
  it('recorded the initialize with the client’s name', () => {
    const init = records().find((r) => r['mcp.method.name'] === 'initialize')!;
    expect(init).toMatchObject({
      'gen_ai.agent.id': 'tester',
      'tollgate.auth.method': 'api_key',
      'tollgate.client.name': 'test-agent',
      'tollgate.decision': 'allowed',
    });
  });

  it('writes an allowed call with every field, before the agent sees the answer', async () => {
    await client.callTool({
      name: 'feat__echo',
      arguments: { text: 'hello', password: 'hunter2', nested: { api_key: 'sk-abcdefghijklmnopqrstuv' } },
    });
    const r = last(); // read right after the answer: no waiting
    for (const f of [...AUDIT_FIELDS, 'prev']) expect(r).toHaveProperty([f]);
    expect(r).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'feat__echo',
      'tollgate.target.native': 'echo',
      'tollgate.upstream.name': 'feat',
      'tollgate.decision': 'allowed',
      'tollgate.decision_rule': 'allow feat__*',
      'tollgate.outcome': 'ok',
      'service.instance.id': gw.gw.config.instanceId,
    });
    expect(r['tollgate.result.bytes']).toBeGreaterThan(10);
    expect(r['tollgate.result.sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(r['tollgate.latency.upstream_ms']).toBeGreaterThan(0);
    expect(r['tollgate.latency.total_ms']).toBeGreaterThanOrEqual(r['tollgate.latency.upstream_ms']!);
    const args = JSON.stringify(r['tollgate.request.arguments']);
    expect(args).toContain('hello');
    expect(args).not.toContain('hunter2');
    expect(args).not.toContain('sk-abcdefghijklmnopqrstuv');
  });

  it('records a denied call with the rule, and no upstream latency', async () => {
    await expect(client.callTool({ name: 'feat__crash', arguments: {} })).rejects.toThrow(/access denied/);
    expect(last()).toMatchObject({
      'tollgate.decision': 'denied',
      'tollgate.decision_rule': 'deny feat__crash',
      'tollgate.outcome': 'jsonrpc_error',
      'rpc.response.status_code': '-32041',
      'tollgate.latency.upstream_ms': null,
    });
  });

  it('records an unknown tool as a gateway error', async () => {
    await expect(client.callTool({ name: 'nope__x', arguments: {} })).rejects.toThrow();
    expect(last()).toMatchObject({
      'mcp.method.name': 'tools/call',
      'tollgate.decision': 'error',
      'tollgate.outcome': 'jsonrpc_error',
      'rpc.response.status_code': '-32602',
    });
  });

  it('records a timeout, and a tool result flagged isError', async () => {
    await expect(client.callTool({ name: 'feat__slow', arguments: { ms: 2000 } })).rejects.toThrow(/-32001/);
    expect(last()).toMatchObject({
      'tollgate.decision': 'allowed',
      'tollgate.outcome': 'timeout',
      'rpc.response.status_code': '-32001',
    });
    await client.callTool({ name: 'feat__echo', arguments: { text: '!is_error' } }); // the fixture answers isError
    expect(last()).toMatchObject({ 'tollgate.outcome': 'is_error' });
    // A name the upstream never listed does not reach it: refused as unknown, recorded as denied.
    await expect(client.callTool({ name: 'feat__no_such_tool_here', arguments: {} })).rejects.toThrow(/-32602/);
    expect(last()).toMatchObject({
      'tollgate.decision': 'denied',
      'tollgate.decision_rule': 'not in the feat catalog',
      'tollgate.latency.upstream_ms': null,
    });
  });

  it('records list calls and the agent’s answer to a sampling request', async () => {
    await client.listTools();
    expect(last()).toMatchObject({ 'mcp.method.name': 'tools/list', 'tollgate.decision': 'allowed' });
    await client.callTool({ name: 'feat__sample', arguments: { text: 'x' } });
    const sampling = records().find((r) => r['mcp.method.name'] === 'sampling/createMessage');
    expect(sampling).toMatchObject({
      'tollgate.upstream.name': 'feat',
      'tollgate.outcome': 'ok',
      'gen_ai.agent.id': 'tester',
    });
  });

  it('keeps an intact hash chain, and the CLI reads and filters it', async () => {
    expect((await verifyAudit(gw.auditFile)).ok).toBe(true);
    const { stdout } = await run(process.execPath, [
      ...nodeArgs('bin/tollgate.mjs'),
      'audit',
      gw.auditFile,
      '--decision',
      'denied',
      '--json',
    ]);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l['tollgate.decision'] === 'denied')).toBe(true);
    const verify = await run(process.execPath, [...nodeArgs('bin/tollgate.mjs'), 'audit', 'verify', gw.auditFile]);
    expect(verify.stdout).toMatch(/^OK: \d+ records in 1 file/);
  });
});
