// The streaming (SSE) response of an LLM call: relayed, then usage settled and the call audited at its end; separate so proxy.ts keeps to the call's flow.
import type { ApiKind } from './runtime.js';
import type { Success } from './dispatch.js';
import { inspectorFor } from './sse.js';
import { relaySource } from './stream.js';
import type { LlmAnswer } from './answer.js';
import { responseHeaders } from './upstream.js';
import type { LlmCallRecord } from './audit.js';

export function streamResponse(
  deps: { drainTimeoutMs: number; audit: (rec: LlmCallRecord) => Promise<void> },
  kind: ApiKind,
  rec: LlmCallRecord,
  r: Success,
  estimate: number,
  agentWantsUsage: boolean,
  settle: (n: number) => Promise<void>,
): LlmAnswer {
  const stream = relaySource({
    kind,
    first: r.first!,
    rest: r.rest!,
    body: r.body,
    inspector: inspectorFor(kind, agentWantsUsage),
    drainTimeoutMs: deps.drainTimeoutMs,
    finish: async (end) => {
      r.done();
      const reported = end.usage ? end.usage.input + end.usage.output : undefined;
      // A count is final only from a stream that ended: one cut short may have produced (and been
      // billed) up to the reservation, whatever its first events said.
      const charged = reported !== undefined && !end.cut ? reported : Math.max(estimate, reported ?? 0);
      await settle(charged);
      const reason = end.agentLeft ? (end.message ?? 'agent disconnected before the end of the stream') : end.message;
      await deps.audit({
        ...rec,
        outcome: end.outcome === 'ok' ? 'ok' : end.outcome === 'timeout' ? 'timeout' : 'is_error',
        status: r.status,
        usage: end.usage,
        charged,
        reason,
        digest: { bytes: end.bytes, sha256: end.sha256 },
      });
    },
  });
  // transfer-encoding set here makes node-server stream at once instead of probing for a length (and
  // node:http chunk the fast lane's answer).
  const headers = {
    ...responseHeaders(r.headers),
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'transfer-encoding': 'chunked',
  };
  return { status: r.status, headers, stream };
}
