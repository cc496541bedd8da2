// What the `tollgate audit` command's tests share: a log of five records from the last three hours
// (rotated when asked), and auditCommand run with its output captured and a fixed clock.
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createAuditRecord, type AuditDecision, type AuditOutcome } from '../../src/audit/record.js';
import { openAuditWriter } from '../../src/audit/writer.js';
import { auditCommand, type AuditIo } from '../../src/cli/audit.js';
import { tempDir } from './tmp.js';

export const NOW = Date.UTC(2025, 2, 10, 12, 0, 0);
export const MIN = 60_000;

export async function fixture(rotateBytes?: number): Promise<string> {
  const dir = tempDir('audit-cli-');
  const w = await openAuditWriter({
    destination: { path: join(dir, 'tollgate-audit.jsonl') },
    ...(rotateBytes ? { rotateBytes } : {}),
  });
  const row = (
    ago: number,
    agent: string,
    tool: string,
    decision: AuditDecision,
    outcome: AuditOutcome,
    ms: number,
    tokens: number,
    extra = {},
  ) =>
    w.append(
      createAuditRecord({
        timestamp: new Date(NOW - ago).toISOString(),
        'service.instance.id': 'gw',
        'gen_ai.agent.id': agent,
        'tollgate.auth.method': 'api_key',
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': tool,
        'tollgate.upstream.name': tool.split('__')[0]!,
        'tollgate.decision': decision,
        'tollgate.outcome': outcome,
        'tollgate.latency.total_ms': ms,
        'tollgate.tokens.charged': tokens,
        ...extra,
      }),
    );
  await row(180 * MIN, 'alice', 'github__search', 'allowed', 'ok', 12.3, 100);
  await row(90 * MIN, 'bob', 'fs__read', 'denied', 'jsonrpc_error', 0.4, 0, {
    'tollgate.decision_reason': 'not allowed',
    'tollgate.decision_rule': 'agents.bob',
    'rpc.response.status_code': '-32001',
  });
  await row(30 * MIN, 'alice', 'github__create_issue', 'rate_limited', 'jsonrpc_error', 1, 0, {
    'rpc.response.status_code': '-32002',
  });
  await row(10 * MIN, 'alice', 'fs__write', 'allowed', 'timeout', 60_000, 40);
  await row(1 * MIN, 'carol', 'github__search', 'error', 'jsonrpc_error', 3, 0, {
    'rpc.response.status_code': '-32050',
  });
  await w.close();
  return dir;
}

export function io(opts: Partial<AuditIo> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { io: { stdout, stderr, isTTY: false, now: () => NOW, ...opts }, out: () => out, err: () => err };
}

export async function run(argv: string[], opts: Partial<AuditIo> = {}) {
  const t = io(opts);
  const code = await auditCommand(argv, t.io);
  return { code, out: t.out(), err: t.err() };
}
