// The exporter never holds the gateway up: a collector that hangs or fails costs its batch only.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { OtlpJsonExporter } from './exporter.js';

const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.closeAllConnections();
  return Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function collector(handle: (body: string, res: import('node:http').ServerResponse) => void): Promise<string> {
  const s = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    handle(Buffer.concat(chunks).toString(), res);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1/traces`;
}

async function spans(): Promise<ReadableSpan[]> {
  const mem = new InMemorySpanExporter();
  const p = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: mem })] });
  const s = p
    .getTracer('t')
    .startSpan('tools/call x', { kind: SpanKind.SERVER, attributes: { n: 3, f: 1.5, ok: true } });
  s.end();
  await p.forceFlush();
  return mem.getFinishedSpans();
}

const exporter = (url: string, timeoutMs = 5000) =>
  new OtlpJsonExporter({
    url,
    headers: { 'x-key': 'k' },
    timeoutMs,
    resource: { 'service.name': 'tg' },
    scope: { name: 'tollgate', version: '0' },
    log: pino({ level: 'silent' }),
  });

const exported = (e: OtlpJsonExporter, s: ReadableSpan[]) =>
  new Promise<number>((resolve) => e.export(s, (r) => resolve(r.code)));

describe('OtlpJsonExporter', () => {
  it('POSTs OTLP JSON: hex ids, nanosecond strings, OTLP span kinds, typed attribute values', async () => {
    let body = '';
    const url = await collector((b, res) => {
      body = b;
      res.end('{}');
    });
    const s = await spans();
    expect(await exported(exporter(url), s)).toBe(0);
    const sent = JSON.parse(body).resourceSpans[0];
    expect(sent.resource.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'tg' } }]);
    const span = sent.scopeSpans[0].spans[0];
    expect(span).toMatchObject({ traceId: s[0]!.spanContext().traceId, name: 'tools/call x', kind: 2 });
    expect(span.startTimeUnixNano).toMatch(/^\d{19}$/);
    expect(span.attributes).toEqual([
      { key: 'n', value: { intValue: '3' } },
      { key: 'f', value: { doubleValue: 1.5 } },
      { key: 'ok', value: { boolValue: true } },
    ]);
  });

  it('returns at once to its caller; a collector that never answers fails that batch after the timeout', async () => {
    const url = await collector(() => undefined); // reads the body, never answers
    const e = exporter(url, 300);
    let code: number | undefined;
    const batch = await spans();
    e.export(batch, (r) => {
      code = r.code;
    });
    expect(code).toBeUndefined(); // export() did not wait on the network
    await e.forceFlush();
    expect(code).toBe(1);
    expect(e.counts.failed).toBe(1);
  });

  it('follows no redirect: the spans and the export headers go to the configured collector only', async () => {
    const elsewhere: string[] = [];
    const other = await collector((b, res) => {
      elsewhere.push(b);
      res.end('{}');
    });
    const url = await collector((_b, res) => res.writeHead(307, { location: other }).end());
    expect(await exported(exporter(url), await spans())).toBe(1);
    expect(elsewhere).toEqual([]);
  });

  it('an error status or a refused connection fails the batch without throwing', async () => {
    const url = await collector((_b, res) => res.writeHead(503).end('busy'));
    expect(await exported(exporter(url), await spans())).toBe(1);
    expect(await exported(exporter('http://127.0.0.1:9/v1/traces'), await spans())).toBe(1);
  });
});
