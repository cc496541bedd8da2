// OpenTelemetry logs over OTLP/HTTP, JSON encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
// one LogRecord per audit line. The record's keys are OTel attribute names already (record.ts), so
// they are exported as they are; `prev` becomes `tollgate.chain.prev`, `null` values are left out,
// and arguments keep their structure (kvlist/array values). Signed checkpoints are log records too
// (event.name tollgate.audit.checkpoint), so the collector holds the anchor.
import { VERSION } from '../../version.js';
import type { Encoded } from './queue.js';

type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } };
interface KeyValue {
  key: string;
  value: AnyValue;
}

function anyValue(v: unknown, depth = 0): AnyValue | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (depth > 16) return { stringValue: JSON.stringify(v) };
  if (Array.isArray(v))
    return { arrayValue: { values: v.map((x) => anyValue(x, depth + 1) ?? { stringValue: 'null' }) } };
  if (typeof v === 'object') return { kvlistValue: { values: attributes(v as Record<string, unknown>, depth + 1) } };
  return { stringValue: String(v) };
}

function attributes(o: Record<string, unknown>, depth = 0): KeyValue[] {
  const out: KeyValue[] = [];
  for (const [k, v] of Object.entries(o)) {
    const value = anyValue(v, depth);
    if (value) out.push({ key: k, value });
  }
  return out;
}

const SEVERITY: Record<string, [number, string]> = {
  error: [17, 'ERROR'],
  denied: [13, 'WARN'],
  rate_limited: [13, 'WARN'],
  budget_exceeded: [13, 'WARN'],
};

function logRecord(line: string, observed: string): Record<string, unknown> {
  const rec = JSON.parse(line) as Record<string, unknown>;
  const { timestamp, prev, ...rest } = rec;
  const ms = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
  const checkpoint = rec['tollgate.record.kind'] === 'checkpoint';
  const decision = String(rec['tollgate.decision'] ?? '');
  const [severityNumber, severityText] = SEVERITY[decision] ?? [9, 'INFO'];
  const target =
    rec['gen_ai.tool.name'] ??
    rec['gen_ai.prompt.name'] ??
    rec['mcp.resource.uri'] ??
    rec['gen_ai.request.model'] ??
    rec['mcp.method.name'] ??
    '';
  const attrs = attributes(rest);
  attrs.push({
    key: 'event.name',
    value: { stringValue: checkpoint ? 'tollgate.audit.checkpoint' : 'tollgate.audit.record' },
  });
  if (typeof prev === 'string') attrs.push({ key: 'tollgate.chain.prev', value: { stringValue: prev } });
  return {
    timeUnixNano: Number.isFinite(ms) ? `${ms}000000` : observed,
    observedTimeUnixNano: observed,
    severityNumber,
    severityText,
    body: {
      stringValue: checkpoint
        ? `audit checkpoint #${String(rec['tollgate.checkpoint.seq'])}`
        : `${decision} ${String(rec['mcp.method.name'] ?? 'llm')} ${String(target)}`,
    },
    attributes: attrs,
  };
}

/** An OTLP ExportLogsServiceRequest (JSON) for a batch of audit lines. */
export function otlpLogsEncoder(serviceName: string, instanceId: string): (lines: readonly string[]) => Encoded {
  const resource = {
    attributes: attributes({
      'service.name': serviceName,
      'service.version': VERSION,
      'service.instance.id': instanceId,
    }),
  };
  return (lines) => {
    const observed = `${Date.now()}000000`;
    const logRecords = [];
    for (const l of lines) {
      try {
        logRecords.push(logRecord(l, observed));
      } catch {
        // every written line is JSON; a line that is not is not exported
      }
    }
    const body = {
      resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'tollgate.audit', version: VERSION }, logRecords }] }],
    };
    return { body: JSON.stringify(body), contentType: 'application/json' };
  };
}

/** The generic webhook's body: {"records":[…]}, the audit lines exactly as written (re-verifiable). */
export function webhookEncoder(lines: readonly string[]): Encoded {
  return { body: `{"records":[${lines.join(',')}]}`, contentType: 'application/json' };
}
