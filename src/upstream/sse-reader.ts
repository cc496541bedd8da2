// Reads a text/event-stream body into JSON-RPC messages. Shared by the Streamable HTTP and the
// legacy SSE upstream channels.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { validateMessage, type JsonRpcMessage } from '../mcp/jsonrpc.js';
import { UPSTREAM_JSON, parseBounded } from '../mcp/json-shape.js';

export interface SseHandlers {
  message(msg: JsonRpcMessage, eventId: string | undefined): void;
  /** A non-message event (e.g. legacy `endpoint`), or a malformed message. */
  other?(event: EventSourceMessage): void;
  invalid?(reason: string): void;
}

/** One event larger than this ends the stream (a runaway upstream must not fill our memory). */
export const MAX_EVENT_BYTES = 32 * 1024 * 1024;

export class SseEventTooLarge extends Error {}

export async function readSse(
  body: AsyncIterable<Buffer | string>,
  h: SseHandlers,
  maxEventBytes = MAX_EVENT_BYTES,
): Promise<void> {
  let pending = 0;
  const parser = createParser({
    onEvent(ev) {
      pending = 0;
      if (ev.event !== undefined && ev.event !== 'message') {
        h.other?.(ev);
        return;
      }
      if (ev.data === '') return; // priming event: carries only an id
      const parsed = parseBounded(ev.data, UPSTREAM_JSON);
      if ('invalid' in parsed) {
        h.invalid?.('SSE data is not JSON');
        return;
      }
      const msg = 'shape' in parsed ? parsed.shape : validateMessage(parsed.value);
      if (typeof msg === 'string') h.invalid?.(msg);
      else h.message(msg, ev.id);
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    pending += chunk.length;
    if (pending > maxEventBytes) throw new SseEventTooLarge(`an SSE event exceeds ${maxEventBytes} bytes`);
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
}
