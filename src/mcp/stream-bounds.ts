// How much one SSE stream to an agent may hold, and who hears when it holds too much. An agent
// that reads its stream slowly (or never, keeping the connection open) must not make the gateway
// hold an upstream's flood of logs, progress or results without limit, nor stall other agents.
import type { JsonRpcMessage } from './jsonrpc.js';

export interface StreamBounds {
  /**
   * Bytes an SSE stream may hold beyond what its socket has taken (and, separately, keep for
   * Last-Event-ID replay). One message is always accepted on an empty queue, whatever its size
   * (it is bounded by the upstream's max_response_bytes).
   */
  maxQueuedBytes: number;
  /** Told when a droppable notification is dropped, and when a stream is closed for falling behind. */
  pressure?: StreamPressure;
}

export interface StreamPressure {
  dropped(streamId: string, firstOnStream: boolean): void;
  overflowed(streamId: string, method: string): void;
}

export const DEFAULT_SSE_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
export const DEFAULT_STREAM_BOUNDS: StreamBounds = { maxQueuedBytes: DEFAULT_SSE_MAX_QUEUED_BYTES };

/**
 * Notifications an agent can do without: a log line or a progress update lost to a slow reader is
 * better than memory without bound. Everything else (responses, server requests, list_changed,
 * resources/updated, cancellations) is never dropped silently: the stream is closed instead.
 */
export function isDroppable(msg: JsonRpcMessage): boolean {
  return (
    'method' in msg &&
    !('id' in msg) &&
    (msg.method === 'notifications/message' || msg.method === 'notifications/progress')
  );
}

/** What `method` a message is, for logs: a response is `response`. */
export const kindOf = (msg: JsonRpcMessage): string => ('method' in msg ? msg.method : 'response');
