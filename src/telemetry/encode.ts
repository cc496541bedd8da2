// Finished spans as OTLP/HTTP JSON (opentelemetry-proto's JSON mapping: ids in hex, times as
// decimal strings of nanoseconds, enums as numbers). Written here rather than taken from
// @opentelemetry/otlp-transformer, which brings the logs and metrics SDKs (and, on its latest line,
// needs Node 22): traces are all this gateway exports.
import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } };
interface KeyValue {
  key: string;
  value: AnyValue;
}

function anyValue(v: AttributeValue | undefined | null): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: (v as (AttributeValue | null)[]).map(anyValue) } };
  return { stringValue: '' };
}

export function keyValues(attrs: Attributes): KeyValue[] {
  const out: KeyValue[] = [];
  for (const key in attrs) {
    const v = attrs[key];
    if (v !== undefined) out.push({ key, value: anyValue(v) });
  }
  return out;
}

const nanos = (t: HrTime): string => (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();

function span(s: ReadableSpan): Record<string, unknown> {
  const sc = s.spanContext();
  const parent = s.parentSpanContext;
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    ...(sc.traceState ? { traceState: sc.traceState.serialize() } : {}),
    ...(parent ? { parentSpanId: parent.spanId } : {}),
    // Bit 8 (0x100) says whether the parent's "is remote" is known, bit 9 (0x200) that it is.
    flags: (sc.traceFlags & 0xff) | 0x100 | (parent?.isRemote ? 0x200 : 0),
    name: s.name,
    kind: s.kind + 1, // API INTERNAL=0…; OTLP UNSPECIFIED=0, INTERNAL=1, SERVER=2, CLIENT=3
    startTimeUnixNano: nanos(s.startTime),
    endTimeUnixNano: nanos(s.endTime),
    attributes: keyValues(s.attributes),
    ...(s.droppedAttributesCount ? { droppedAttributesCount: s.droppedAttributesCount } : {}),
    ...(s.events.length
      ? {
          events: s.events.map((e) => ({
            timeUnixNano: nanos(e.time),
            name: e.name,
            attributes: keyValues(e.attributes ?? {}),
          })),
        }
      : {}),
    status: s.status.message ? { code: s.status.code, message: s.status.message } : { code: s.status.code },
  };
}

/** One export request body: every span under one resource and one instrumentation scope. */
export function encodeSpans(
  spans: readonly ReadableSpan[],
  resource: Attributes,
  scope: { name: string; version: string },
): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: keyValues(resource) },
        scopeSpans: [{ scope, spans: spans.map(span) }],
      },
    ],
  });
}
