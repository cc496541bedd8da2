// LLM calls (/v1) as spans, with the GenAI semantic conventions: a SERVER span for the agent's
// request ("chat gpt-4o-mini") carrying gen_ai.operation.name, gen_ai.request.model and the token
// counts, an `authenticate` child, and a CLIENT child for the upstream try that answered. Made from
// the call's audit record when it is written (streamed answers: when the stream ends).
import { type Attributes, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { LlmCallRecord } from '../llm/audit.js';
import { hr, parentContext, remoteParent } from './context.js';
import type { Tracing } from './tracing.js';

export function llmSpans(tracing: Tracing): (rec: LlmCallRecord) => void {
  const tracer = tracing.tracer;
  return (rec) => {
    const http = rec.http;
    if (http) http.spanned = true;
    const now = performance.now();
    const model = rec.model ?? undefined;
    const span = tracer.startSpan(
      model ? `${rec.op} ${model.slice(0, 100)}` : rec.op,
      { kind: SpanKind.SERVER, startTime: hr(http?.at ?? rec.started) },
      parentContext(remoteParent(http?.traceparent, http?.tracestate)),
    );
    if (!span.isRecording()) return;
    const a: Attributes = {
      'gen_ai.operation.name': rec.op,
      'gen_ai.agent.id': rec.agent.id,
      'tollgate.auth.method': rec.agent.method,
      'tollgate.decision': rec.decision,
    };
    if (model) a['gen_ai.request.model'] = model.slice(0, 200);
    if (rec.native) a['gen_ai.response.model'] = rec.native;
    if (rec.upstream) a['tollgate.upstream.name'] = rec.upstream;
    if (rec.usage) {
      a['gen_ai.usage.input_tokens'] = rec.usage.input;
      a['gen_ai.usage.output_tokens'] = rec.usage.output;
    }
    if (rec.charged) a['tollgate.tokens.charged'] = rec.charged;
    if (rec.rule) a['tollgate.decision_rule'] = rec.rule;
    if (rec.status !== undefined) a['http.response.status_code'] = rec.status;
    span.setAttributes(a);
    const ctx = trace.setSpan(parentContext(undefined), span);
    if (http?.authFrom !== undefined && http.authTo !== undefined)
      tracer.startSpan('authenticate', { startTime: hr(http.authFrom) }, ctx).end(hr(http.authTo));
    if (rec.sentAt !== undefined && rec.upstream) {
      const up = tracer.startSpan(
        `${rec.op} ${rec.native ?? model ?? ''}`.trim(),
        {
          kind: SpanKind.CLIENT,
          startTime: hr(rec.sentAt),
          attributes: { 'gen_ai.operation.name': rec.op, 'tollgate.upstream.name': rec.upstream },
        },
        ctx,
      );
      up.end(hr(now));
    }
    if (rec.outcome !== 'ok')
      span.setStatus({ code: SpanStatusCode.ERROR, message: (rec.reason ?? rec.outcome).slice(0, 200) });
    span.end(hr(now));
  };
}
