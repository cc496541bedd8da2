// An in-test OTLP/HTTP (JSON) receiver: collects every span POSTed to /v1/traces.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status: { code: number; message?: string };
  /** Flattened from the export's resource. */
  resource: Record<string, unknown>;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Request headers of every export. */
  headers: Record<string, string | string[] | undefined>[];
  close(): Promise<void>;
}

const scalar = (v: Record<string, unknown>): unknown =>
  'stringValue' in v ? v.stringValue : 'intValue' in v ? Number(v.intValue) : Object.values(v)[0];

/** Attributes of a received span as a plain object. */
export function attrs(s: { attributes: ReceivedSpan['attributes'] }): Record<string, unknown> {
  return Object.fromEntries(s.attributes.map((a) => [a.key, scalar(a.value)]));
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const headers: OtlpReceiver['headers'] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
    headers.push(req.headers);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as {
      resourceSpans: {
        resource: { attributes: ReceivedSpan['attributes'] };
        scopeSpans: { spans: Omit<ReceivedSpan, 'resource'>[] }[];
      }[];
    };
    for (const rs of body.resourceSpans) {
      const resource = attrs(rs.resource);
      for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, resource });
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    headers,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
