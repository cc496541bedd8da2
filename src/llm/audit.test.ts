import { describe, expect, it } from 'vitest';
import { AUDIT_FIELDS, createAuditRecord, type AuditRecordInput } from '../audit/record.js';
import { llmAuditRecord, type LlmCallRecord } from './audit.js';

const call: LlmCallRecord = {
  agent: { id: 'a1', method: 'api_key', user: 'u', client: undefined } as LlmCallRecord['agent'],
  op: 'chat',
  model: 'gpt-4o-mini',
  startedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
  started: performance.now(),
  upstream: 'mock',
  native: 'gpt-4o-mini-2024',
  decision: 'allowed',
  outcome: 'ok',
  status: 200,
  usage: { input: 12, output: 7 },
  charged: 19,
  digest: { bytes: 321, sha256: 'ab'.repeat(32) },
  sentAt: performance.now(),
  costUsd: 0.25,
};

describe('llmAuditRecord', () => {
  it('is the record the generic audit path makes of the same call, key for key and in log order', () => {
    const rec = llmAuditRecord(call, 'gw-1');
    const generic = createAuditRecord({
      timestamp: '2026-01-02T03:04:05.000Z',
      'service.instance.id': 'gw-1',
      'gen_ai.operation.name': 'chat',
      'gen_ai.agent.id': 'a1',
      'tollgate.auth.method': 'api_key',
      'tollgate.auth.user': 'u',
      'tollgate.upstream.name': 'mock',
      'tollgate.target.native': 'gpt-4o-mini-2024',
      'gen_ai.request.model': 'gpt-4o-mini',
      'tollgate.decision': 'allowed',
      'tollgate.outcome': 'ok',
      'tollgate.result.bytes': 321,
      'tollgate.result.sha256': 'ab'.repeat(32),
      'tollgate.tokens.charged': 19,
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 7,
      'tollgate.cost.usd': 0.25,
      'tollgate.latency.total_ms': rec['tollgate.latency.total_ms'],
      'tollgate.latency.upstream_ms': rec['tollgate.latency.upstream_ms'],
      'tollgate.record.id': rec['tollgate.record.id'],
    } as AuditRecordInput);
    expect(Object.keys(rec)).toEqual(AUDIT_FIELDS);
    expect(JSON.stringify(rec)).toBe(JSON.stringify(generic));
  });

  it('shows a non-2xx status and leaves absent parts null', () => {
    const rec = llmAuditRecord(
      {
        ...call,
        status: 429,
        usage: undefined,
        charged: undefined,
        digest: undefined,
        sentAt: undefined,
        upstream: undefined,
      },
      'gw-1',
    );
    expect(rec['rpc.response.status_code']).toBe('429');
    expect(rec['gen_ai.usage.input_tokens']).toBeNull();
    expect(rec['tollgate.tokens.charged']).toBe(0);
    expect(rec['tollgate.latency.upstream_ms']).toBeNull();
    expect(rec['tollgate.upstream.name']).toBeNull();
    expect(rec['tollgate.record.id']).toMatch(/^[0-9A-Z]{26}$/);
  });
});
