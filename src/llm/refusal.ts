// How an LLM call ends without an answer from an upstream (or with the upstream's own error): the
// status, the message for the agent and what its audit record adds. Made only on failure paths, so
// the steps of proxy.ts can return `X | Refusal` instead of each building its error response.
import type { Admission } from './budget.js';
import { isErrorShape } from './dialect.js';
import type { ApiKind } from './runtime.js';
import type { Failure } from './dispatch.js';
import type { LlmCallRecord } from './audit.js';
import { TooLargeError, isTimeout, responseHeaders } from './upstream.js';

export class Refusal {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly code: string | null = null,
    /** Fields the call's audit record gets besides the reason and status. */
    readonly extra: Partial<LlmCallRecord> = {},
    /** Response headers: added to the JSON error body's, or the whole set with `body`. */
    readonly headers: Record<string, string> = {},
    /** The upstream's own error body, passed to the agent as it is (in the API's shape). */
    readonly body: Buffer | undefined = undefined,
  ) {}
}

/** A budget or rate limit refused the call: 429 with the limit's rule and headers (retry-after). */
export function overLimit(a: Extract<Admission, { ok: false }>): Refusal {
  return new Refusal(429, a.reason, a.decision, { decision: a.decision, rule: a.rule }, a.headers);
}

/** Every try failed (after retries and fallback), or no upstream in the pool could be tried. */
export function upstreamFailed(kind: ApiKind, r: Failure): Refusal {
  // The upstream answered in the API's shape: the agent gets that answer as it is.
  if (r.body !== undefined && isErrorShape(kind, r.body))
    return new Refusal(
      r.status,
      r.message,
      null,
      { decision: 'allowed', outcome: 'is_error' },
      responseHeaders(r.headers),
      r.body,
    );
  const extra: Partial<LlmCallRecord> = {
    decision: r.body !== undefined ? 'allowed' : 'error',
    outcome: r.timeout ? 'timeout' : 'is_error',
  };
  const keep: Record<string, string> =
    r.headers['retry-after'] !== undefined ? { 'retry-after': String(r.headers['retry-after']) } : {};
  return new Refusal(r.status, r.message, null, extra, keep);
}

/** The upstream answered, but its JSON answer could not be read whole (too large, timeout, reset). */
export function answerLost(upstream: string, err: unknown, charged: number | undefined): Refusal {
  const timeout = isTimeout(err);
  const why =
    err instanceof TooLargeError
      ? `upstream ${upstream} answered more than ${err.maxBytes} bytes`
      : timeout
        ? `upstream ${upstream} timed out while sending its answer`
        : `upstream ${upstream} failed while sending its answer`;
  return new Refusal(timeout ? 504 : 502, why, null, {
    decision: 'allowed',
    outcome: timeout ? 'timeout' : 'is_error',
    charged,
  });
}
