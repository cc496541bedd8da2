// W3C Trace Context in and out: the agent's traceparent/tracestate (HTTP headers, or params._meta
// as SEP-414 / the 2026-07-28 revision carries them), checked strictly, and our own span's context
// written back in the same two forms.
import {
  type Context,
  createTraceState,
  type HrTime,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
  TraceFlags,
} from '@opentelemetry/api';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
// W3C: at most 32 list members of key=value; 512 bytes is what vendors are asked to keep.
const TRACESTATE_MAX = 512;
const TRACESTATE_MEMBER =
  /^[a-z0-9][a-z0-9_\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** The agent's span as a remote parent, or undefined when `traceparent` is absent or malformed. */
export function remoteParent(traceparent: unknown, tracestate: unknown): SpanContext | undefined {
  if (typeof traceparent !== 'string' || traceparent.length !== 55) return undefined;
  const m = TRACEPARENT.exec(traceparent);
  if (!m || m[1] === 'ff' || m[2] === ZERO_TRACE || m[3] === ZERO_SPAN) return undefined;
  const state = validTracestate(tracestate);
  return {
    traceId: m[2]!,
    spanId: m[3]!,
    traceFlags: Number.parseInt(m[4]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(state ? { traceState: createTraceState(state) } : {}),
  };
}

/** tracestate as given when well-formed and small; otherwise none (it is advisory). */
function validTracestate(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length === 0 || v.length > TRACESTATE_MAX) return undefined;
  const members = v.split(',').map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (members.length > 32 || !members.every((s) => s === '' || TRACESTATE_MEMBER.test(s))) return undefined;
  return members.filter((s) => s !== '').join(',');
}

export function parentContext(parent: SpanContext | undefined): Context {
  return parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

/** What goes upstream: our span as the parent of whatever the upstream does. */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

export function carrierOf(sc: SpanContext): TraceCarrier {
  const traceparent = `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & TraceFlags.SAMPLED}`;
  const state = sc.traceState?.serialize();
  return state ? { traceparent, tracestate: state } : { traceparent };
}

// Span times: performance.now() readings (sub-millisecond, monotonic) turned into wall-clock HrTime
// with one anchor, refreshed once a minute. The SDK's own conversion re-anchors on Date.now() (whole
// milliseconds) for every span, which can put a later step before an earlier one.
let anchorSec = 0;
let anchorMs = 0; // wall-clock milliseconds past anchorSec at performance.now() === 0
let anchoredAt = Number.NEGATIVE_INFINITY;

export function hr(perfMs: number): HrTime {
  const now = performance.now();
  if (now - anchoredAt > 60_000) {
    const wall = Date.now() - now;
    anchorSec = Math.floor(wall / 1000);
    anchorMs = wall - anchorSec * 1000;
    anchoredAt = now;
  }
  const ms = anchorMs + perfMs;
  const whole = Math.floor(ms / 1000);
  return [anchorSec + whole, Math.round((ms - whole * 1000) * 1e6)];
}
