import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { McpStep } from '../relay/scope.js';
import { traceSteps } from './steps.js';
import { Tracing } from './tracing.js';
import { toTelemetryRuntime } from './config.js';
import { telemetrySchema } from './schema.js';

const a: McpStep = (_c, next) => next();
const b: McpStep = (_c, next) => next();

describe('traceSteps', () => {
  it('with tracing off returns the very steps given: no wrapper, nothing per call', () => {
    const out = traceSteps(undefined, [['audit', a], b], { upstreams: [] });
    expect(out).toEqual([a, b]);
    expect(out[0]).toBe(a);
  });

  it('with tracing on adds the request and upstream steps around the (grouped) named steps', async () => {
    const cfg = toTelemetryRuntime(telemetrySchema.parse({ otlp: { endpoint: 'http://127.0.0.1:9' } }))!;
    const t = new Tracing(cfg, pino({ level: 'silent' }), 'test');
    const out = traceSteps(t, [['audit', a], ['policy', a], ['policy', b], b], { upstreams: [] });
    expect(out).toHaveLength(5); // request span, audit, policy (a+b), b, upstream span
    await t.close();
  });
});

describe('telemetry config', () => {
  it('is off when absent, disabled, or without an endpoint', () => {
    expect(toTelemetryRuntime(telemetrySchema.parse(undefined))).toBeUndefined();
    expect(toTelemetryRuntime(telemetrySchema.parse({}))).toBeUndefined();
    expect(
      toTelemetryRuntime(telemetrySchema.parse({ enabled: false, otlp: { endpoint: 'http://c:4318' } })),
    ).toBeUndefined();
  });

  it('posts to <endpoint>/v1/traces, and refuses ratios outside 0..1 and non-HTTP endpoints', () => {
    expect(toTelemetryRuntime(telemetrySchema.parse({ otlp: { endpoint: 'http://c:4318/' } }))?.tracesUrl).toBe(
      'http://c:4318/v1/traces',
    );
    expect(telemetrySchema.safeParse({ otlp: { endpoint: 'file:///etc/passwd' } }).success).toBe(false);
    expect(telemetrySchema.safeParse({ otlp: { endpoint: 'http://c' }, sampling: { ratio: 2 } }).success).toBe(false);
  });
});
