import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_FIELDS,
  GENESIS_HASH,
  createAuditRecord,
  newRecordId,
  resultDigest,
  type AuditLine,
  type AuditRecordInput,
} from './record.js';
import { openAuditWriter } from './writer.js';
import { tempDir } from '../../test/helpers/tmp.js';

const base: AuditRecordInput = {
  'service.instance.id': 'gw-1',
  'gen_ai.agent.id': 'alice',
  'tollgate.auth.method': 'api_key',
  'mcp.session.id': 'sess-1',
  'tollgate.client.name': 'claude-code',
  'tollgate.client.version': '2.1.0',
  'mcp.method.name': 'tools/call',
  'jsonrpc.request.id': 7,
  'tollgate.upstream.name': 'github',
  'tollgate.upstream.replica': 'github#0',
  'gen_ai.tool.name': 'github__search',
  'tollgate.target.native': 'search',
  'tollgate.request.arguments': { q: 'bug' },
  'tollgate.decision': 'allowed',
  'tollgate.outcome': 'ok',
  'tollgate.latency.total_ms': 12.5,
};

const kinds: Record<string, Partial<AuditRecordInput>> = {
  allowed: {
    'tollgate.result.bytes': 120,
    'tollgate.result.sha256': 'ab'.repeat(32),
    'tollgate.tokens.charged': 30,
    'tollgate.latency.upstream_ms': 11,
  },
  denied: {
    'tollgate.decision': 'denied',
    'tollgate.decision_reason': 'tool not in allow-list',
    'tollgate.decision_rule': 'agents.alice.tools',
    'tollgate.outcome': 'jsonrpc_error',
    'rpc.response.status_code': '-32001',
  },
  rate_limited: {
    'tollgate.decision': 'rate_limited',
    'tollgate.decision_reason': '10/min exceeded',
    'tollgate.decision_rule': 'limits.alice.rate',
    'tollgate.outcome': 'jsonrpc_error',
    'rpc.response.status_code': '-32002',
  },
  error: {
    'tollgate.decision': 'error',
    'tollgate.decision_reason': 'upstream github is down',
    'tollgate.outcome': 'jsonrpc_error',
    'rpc.response.status_code': '-32050',
  },
  timeout: {
    'tollgate.outcome': 'timeout',
    'tollgate.decision_reason': 'no response in 60s',
    'tollgate.latency.upstream_ms': 60_000,
    'tollgate.latency.total_ms': 60_001,
  },
  llm: {
    'mcp.method.name': null,
    'gen_ai.tool.name': null,
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'gpt-4.1',
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 300,
    'tollgate.tokens.charged': 1500,
  },
};

describe('AuditRecord', () => {
  it('createAuditRecord fills every field in canonical order, nulls for what does not apply', () => {
    const r = createAuditRecord(
      {
        'service.instance.id': 'gw',
        'gen_ai.agent.id': 'a',
        'tollgate.auth.method': 'jwt',
        'tollgate.decision': 'denied',
        'tollgate.outcome': 'jsonrpc_error',
        'tollgate.latency.total_ms': 1,
        'mcp.method.name': 'tools/call',
      },
      Date.UTC(2025, 0, 2),
    );
    expect(Object.keys(r)).toEqual(AUDIT_FIELDS);
    expect(r.timestamp).toBe('2025-01-02T00:00:00.000Z');
    expect(r['tollgate.record.id']).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(r['gen_ai.operation.name']).toBe('execute_tool');
    expect(r['mcp.session.id']).toBeNull();
    expect(r['tollgate.tokens.charged']).toBe(0);
  });

  it('record ids sort by time', () => {
    const a = newRecordId(1_700_000_000_000);
    const b = newRecordId(1_700_000_000_001);
    expect(a < b).toBe(true);
    expect(newRecordId(5)).not.toBe(newRecordId(5));
  });

  it('resultDigest hashes raw bytes, text and values', () => {
    expect(resultDigest('abc')).toEqual({
      bytes: 3,
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    });
    expect(resultDigest(Buffer.from('abc'))).toEqual(resultDigest('abc'));
    expect(resultDigest({ a: 1 })).toEqual(resultDigest('{"a":1}'));
  });

  it.each(Object.entries(kinds))('a %s record is written with every field', async (_kind, extra) => {
    const dir = tempDir('audit-rec-');
    const w = await openAuditWriter({ destination: { path: join(dir, 'a.jsonl') } });
    const rec = createAuditRecord({ ...base, ...extra });
    await w.append(rec);
    await w.close();
    const text = readFileSync(join(dir, 'a.jsonl'), 'utf8');
    const lines = text.split('\n');
    expect(lines).toHaveLength(2);
    const line = JSON.parse(lines[0]!) as AuditLine;
    expect(Object.keys(line)).toEqual([...AUDIT_FIELDS, 'prev']);
    expect(line.prev).toBe(GENESIS_HASH);
    const { prev: _prev, ...written } = line;
    expect(written).toEqual(rec);
  });
});
