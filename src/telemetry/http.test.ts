import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { Hono } from 'hono';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppEnv } from '../http/env.js';
import { toTelemetryRuntime } from './config.js';
import { traceAuth, traceHttp } from './http.js';
import { telemetrySchema } from './schema.js';
import { Tracing } from './tracing.js';

// Parent-based sampling with a root ratio of 0: only a sampled parent makes a span.
const exporter = new InMemorySpanExporter();
const tracing = new Tracing(
  toTelemetryRuntime(
    telemetrySchema.parse({ otlp: { endpoint: 'http://127.0.0.1:9' }, sampling: { ratio: 0, parent_based: true } }),
  )!,
  pino({ level: 'silent' }),
  'test',
  exporter,
);
afterAll(() => tracing.close());

const app = new Hono<AppEnv>();
app.use('/mcp', traceHttp(tracing));
app.use(
  '/mcp',
  traceAuth(tracing, async (c, next) => {
    if (c.req.header('authorization') !== 'Bearer good') return c.text('unauthorized', 401);
    await next();
  }),
);
app.post('/mcp', (c) => c.text('too large', 413));

const SAMPLED = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const spans = async (): Promise<string[]> => {
  await tracing.flush();
  const names = exporter.getFinishedSpans().map((s) => s.name);
  exporter.reset();
  return names;
};

describe('spans of requests refused at the HTTP level', () => {
  it("a caller refused at authentication cannot force sampling with its trace context's flag", async () => {
    for (let i = 0; i < 5; i++) {
      const r = await app.request('/mcp', { method: 'POST', headers: { traceparent: SAMPLED } });
      expect(r.status).toBe(401);
    }
    expect(await spans()).toEqual([]);
  });

  it("an authenticated agent's sampled trace context is honoured (parent_based)", async () => {
    const r = await app.request('/mcp', {
      method: 'POST',
      headers: { traceparent: SAMPLED, authorization: 'Bearer good' },
    });
    expect(r.status).toBe(413);
    expect(await spans()).toEqual(['authenticate', 'POST /mcp']);
  });
});
