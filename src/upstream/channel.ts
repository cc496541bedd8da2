// A channel is the wire to one upstream MCP session: it moves JSON-RPC messages and knows nothing
// of their meaning. Streamable HTTP tells which request an incoming message belongs to (it arrives on
// that request's response stream); stdio and legacy SSE do not, so `relatedTo` is then undefined.
import { EventEmitter } from 'node:events';
import type { JsonRpcMessage, RequestId } from '../mcp/jsonrpc.js';

export interface ChannelEvents {
  message(msg: JsonRpcMessage, relatedTo: RequestId | undefined): void;
  /** The channel can no longer carry messages (process exited, session expired, stream lost). */
  closed(reason: string): void;
  /**
   * A message was dropped unread (stdio: a line over max_response_bytes) and the channel carries on.
   * `relatedTo`: the request it answered, when that could be read; `response`: it was an answer.
   */
  discarded?(reason: string, relatedTo: RequestId | undefined, response: boolean): void;
}

export interface Channel {
  /** Opens the transport. Resolves once messages can be sent. */
  open(events: ChannelEvents): Promise<void>;
  /**
   * Sends one message. For HTTP, rejects when the upstream refused it; the request's response
   * arrives through `events.message`. `headers` are per-message HTTP headers (ignored by stdio).
   */
  send(msg: JsonRpcMessage, headers?: Readonly<Record<string, string>>, abort?: RequestAbort): Promise<void>;
  /** HTTP channels can abandon a request's connection when it times out or is cancelled. */
  readonly abortable?: boolean;
  /**
   * Called once the MCP handshake is done: lets HTTP attach its session headers and GET stream
   * (`stateless`: a 2026 upstream, which has neither session nor GET stream).
   */
  initialized(info: { sessionId?: string | undefined; protocolVersion: string; stateless?: boolean }): void;
  /**
   * `endSession: false` leaves the upstream's session alive (another gateway instance may use it);
   * by default an HTTP session is ended with DELETE.
   */
  close(opts?: { endSession?: boolean }): Promise<void>;
  /** The upstream's own session id, when its transport has one (Streamable HTTP). */
  readonly upstreamSessionId?: string | undefined;
  /** A short description for logs and errors. */
  readonly describe: string;
}

/**
 * Aborts one upstream HTTP request. An EventEmitter with `aborted`, which undici accepts as a
 * signal: cheaper per request than an AbortController (measured on the relay's hot path).
 */
export class RequestAbort extends EventEmitter {
  aborted = false;
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

export class ChannelError extends Error {
  constructor(
    message: string,
    /** true when the upstream's session is gone and a new one must be made. */
    readonly sessionLost = false,
    /** true when the message certainly never reached the upstream (connection refused): safe to send elsewhere. */
    readonly undelivered = false,
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}

/** The upstream answered, but not with a usable message (invalid JSON, over the size cap): -32052. */
export class BadResponseError extends ChannelError {
  constructor(message: string) {
    super(message);
    this.name = 'BadResponseError';
  }
}
