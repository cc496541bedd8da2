// The contracts around an upstream session: how to start one, per-request options, the events it
// raises, and its failure that is safe to retry elsewhere.
import type { JsonRpcMessage } from '../mcp/jsonrpc.js';
import { GatewayError } from '../errors.js';
import type { UpstreamProtocol } from '../config/runtime.js';
import type { AgentEnvelope } from './modern-wire.js';

export interface RequestOptions {
  /** Messages the upstream sends in the course of this request (progress, logs, sampling…). */
  onRelated?: (msg: JsonRpcMessage) => void;
  /** Filled in while the request is in flight: calling it cancels the request upstream. */
  cancellation?: Cancellation;
  /** Per-request HTTP headers (e.g. the agent identity), for HTTP upstreams. */
  headers?: Readonly<Record<string, string>>;
  timeoutMs: number;
  maxTotalMs: number;
  /** 2026 upstreams: the agent's capabilities and log level, sent in this request's envelope. */
  agent?: AgentEnvelope;
}

export interface StartOptions {
  clientInfo: { name: string; version: string };
  /** Declared at a 2025 initialize (a 2026 request carries the agent's own instead). */
  capabilities: Record<string, unknown>;
  timeoutMs: number;
  protocol: UpstreamProtocol;
  /** Hold a subscriptions/listen stream for list_changed (2026; the catalog's session does). */
  watchLists: boolean;
}

export interface SessionHooks {
  /** A tool's inputSchema, for the Mcp-Param-* headers its `x-mcp-header` declarations ask for. */
  toolSchema?: (name: string) => unknown;
}

export interface Cancellation {
  cancel: (() => void) | undefined;
  /**
   * Filled in while the request is in flight: re-arms its idle deadline to `idleMs` (still capped
   * by maxTotalMs). Lets a call parked on an agent's input wait longer than the upstream idle timeout.
   */
  rearm?: ((idleMs: number) => void) | undefined;
}

/** The request never reached the upstream (it could not be connected to): another replica may take it. */
export class UndeliveredError extends GatewayError {
  constructor(message: string) {
    super('upstream_unavailable', message);
  }
}

export interface UpstreamSessionEvents {
  /** A server message tied to no request of ours: list_changed, resources/updated, GET-stream requests. */
  unrelated(msg: JsonRpcMessage): void;
  closed(reason: string): void;
}

export interface InitializeOutcome {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: Record<string, unknown>;
  instructions: string | undefined;
}
