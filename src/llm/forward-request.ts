// What each upstream try is sent: the agent's body under the target's model name, and the headers
// for that upstream. Made lazily and once per model and per upstream, as dispatch asks for them
// (a retry or a fallback to the same model reuses them). Separate so proxy.ts keeps to the call's flow.
import type { IncomingHttpHeaders } from 'node:http';
import type { Target } from './balancer.js';
import type { DispatchOptions } from './dispatch.js';
import { namesKeyTwice } from './duplicate-keys.js';
import type { Json, ParsedRequest } from './parse-request.js';
import { requestHeaders } from './upstream.js';

/**
 * `raw` is the body as received, `parsed` its reading; `addUsage`: ask an OpenAI stream for usage
 * on the agent's behalf (the settlement needs it).
 */
export function upstreamRequests(
  raw: Buffer,
  parsed: ParsedRequest,
  addUsage: boolean,
  agentHeaders: IncomingHttpHeaders,
): DispatchOptions['request'] {
  const body = parsed.body;
  const model = body.model;
  const bodies = new Map<string, Buffer>();
  const headers = new Map<string, Record<string, string>>();
  let duplicated: boolean | undefined;
  return (t: Target): { headers: Record<string, string>; body: Buffer } => {
    let b = bodies.get(t.model);
    if (!b) {
      // Only the model name (and, streaming, the usage option) changes; unchanged bodies go as
      // received, unless a key is named twice: then the upstream gets the reading judged here.
      const asReceived = t.model === model && !addUsage && !(duplicated ??= namesKeyTwice(parsed));
      b = asReceived
        ? raw
        : Buffer.from(
            JSON.stringify({
              ...body,
              model: t.model,
              ...(addUsage
                ? { stream_options: { ...(body.stream_options as Json | undefined), include_usage: true } }
                : {}),
            }),
          );
      bodies.set(t.model, b);
    }
    let h = headers.get(t.name);
    if (!h) headers.set(t.name, (h = requestHeaders(agentHeaders, t.upstream.config)));
    return { headers: h, body: b };
  };
}
