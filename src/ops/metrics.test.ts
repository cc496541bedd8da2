import { describe, expect, it } from 'vitest';
import { createAuditRecord } from '../audit/record.js';
import { GatewayMetrics } from './metrics.js';

const metrics = () =>
  new GatewayMetrics({
    upstreams: () => [],
    sessions: () => 0,
    sseStreams: () => 0,
    stdioProcesses: () => 0,
    limitsDegraded: () => false,
  });

describe('GatewayMetrics', () => {
  it('counts pin events on their own counter, not as agent requests or rejections', async () => {
    const m = metrics();
    // As src/pins/guard.ts audits a changed definition (refused) and an approval.
    for (const [agent, rule, decision] of [
      ['@gateway', 'tool.pin_mismatch', 'denied'],
      ['@gateway', 'tool.pin_mismatch', 'denied'],
      ['@admin', 'tool.pin_approved', 'allowed'],
    ] as const)
      m.observe(
        createAuditRecord({
          timestamp: new Date().toISOString(),
          'service.instance.id': 'gw',
          'gen_ai.agent.id': agent,
          'tollgate.auth.method': 'gateway',
          'tollgate.upstream.name': 'fs',
          'gen_ai.tool.name': 'fs__read',
          'tollgate.decision': decision,
          'tollgate.decision_rule': rule,
          'tollgate.outcome': 'ok',
          'tollgate.latency.total_ms': 0,
        }),
      );
    m.observe(
      createAuditRecord({
        timestamp: new Date().toISOString(),
        'service.instance.id': 'gw',
        'gen_ai.agent.id': 'alice',
        'tollgate.auth.method': 'api_key',
        'mcp.method.name': 'tools/call',
        'tollgate.upstream.name': 'fs',
        'gen_ai.tool.name': 'fs__read',
        'tollgate.decision': 'denied',
        'tollgate.decision_rule': 'agents.alice',
        'tollgate.outcome': 'jsonrpc_error',
        'tollgate.latency.total_ms': 1,
      }),
    );
    const text = await m.registry.metrics();
    expect(text).toContain('tollgate_pin_events_total{server="fs",kind="pin_mismatch"} 2');
    expect(text).toContain('tollgate_pin_events_total{server="fs",kind="pin_approved"} 1');
    expect(text).not.toMatch(/agent="@/);
    expect(text).not.toContain('method="unknown"');
    expect(text).toContain('tollgate_rejections_total{agent="alice",reason="denied"} 1');
  });
});
