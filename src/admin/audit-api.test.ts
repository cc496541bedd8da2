import { describe, expect, it } from 'vitest';
import { createAuditRecord, type AuditRecord } from '../audit/record.js';
import { createRedactor } from '../audit/redact.js';
import { liveTailResponse, redacted } from './audit-api.js';

describe('the live tail (SSE)', () => {
  it('sends each record as one event, whatever its id says (a row of the fleet table is text anyone with the database wrote)', async () => {
    let emit: (r: AuditRecord) => void = () => {};
    const ctrl = new AbortController();
    const res = liveTailResponse({
      recorder: {
        onRecord: (l) => {
          emit = l;
          return () => {};
        },
      },
      query: {},
      redact: undefined,
      keepaliveMs: 60_000,
      signal: ctrl.signal,
    });
    const base = {
      'service.instance.id': 'gw',
      'gen_ai.agent.id': 'mallory',
      'tollgate.auth.method': 'api_key',
      'tollgate.decision': 'allowed',
      'tollgate.outcome': 'ok',
      'tollgate.latency.total_ms': 1,
    } as const;
    const fake = JSON.stringify(createAuditRecord({ ...base, 'gen_ai.agent.id': 'alice' }));
    emit(createAuditRecord({ ...base, 'tollgate.record.id': `01J\ndata: ${fake}\n\nid: 2` }));
    emit(createAuditRecord({ ...base, 'tollgate.record.id': '01JD0000000000000000000000' }));
    ctrl.abort();
    const text = await res.text();
    const events = text
      .split('\n\n')
      .filter((e) => e.split('\n').some((l) => l.startsWith('data: ')))
      .map((e) =>
        e
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => (JSON.parse(l.slice(6)) as AuditRecord)['gen_ai.agent.id']),
      );
    expect(events).toEqual([['mallory'], ['mallory']]); // no "alice" of the row's making
    expect(text).toContain('id: 01JD0000000000000000000000\n');
  });
});

describe('a live record as admins see it', () => {
  it('has its resource URI redacted as the log file has it, native name included', () => {
    const redact = createRedactor({ keys: [], maxValueBytes: 4096 });
    const r = createAuditRecord({
      'service.instance.id': 'gw',
      'gen_ai.agent.id': 'alice',
      'tollgate.auth.method': 'api_key',
      'mcp.method.name': 'resources/read',
      'mcp.resource.uri': 'files+https://files.example/a.pdf?token=tok-77d1e0c9a4',
      'tollgate.target.native': 'https://files.example/a.pdf?token=tok-77d1e0c9a4',
      'tollgate.decision': 'allowed',
      'tollgate.outcome': 'ok',
      'tollgate.latency.total_ms': 1,
    });
    const shown = JSON.stringify(redacted(r, redact));
    expect(shown).toContain('a.pdf');
    expect(shown).not.toContain('tok-77d1e0c9a4');
  });
});
