// The 2026-07-28 side of an upstream session. There is no session on the wire: `server/discover`
// replaces initialize, and what the 2025 GET stream and resources/subscribe gave (list_changed,
// resources/updated) comes on one `subscriptions/listen` stream the gateway holds open, reopened
// with backoff when it ends and restarted when the subscribed URIs change.
import { isObject, type JsonRpcMessage, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import { META_SERVER_INFO } from '../mcp/era.js';
import { GatewayError } from '../errors.js';
import { MODERN_VERSION, mirroredHeaders, withEnvelope } from './modern-wire.js';
import type { Cancellation, InitializeOutcome, UpstreamSession } from './session.js';
import { UndeliveredError } from './session.js';

export type ProbeOutcome = { kind: 'modern'; init: InitializeOutcome } | { kind: 'legacy'; reason: string };

/**
 * Asks `server/discover` as the v2 SDK client does: a result naming 2026-07-28 means a 2026 server;
 * any other answer (a JSON-RPC error, an HTTP 4xx) means a 2025 one. No answer at all (unreachable,
 * timeout, the process died) is not an answer: the caller retries or falls back.
 */
export async function probeDiscover(
  session: UpstreamSession,
  clientInfo: { name: string; version: string },
  timeoutMs: number,
): Promise<ProbeOutcome> {
  let res: JsonRpcResponse;
  try {
    res = await session.request('server/discover', withEnvelope(undefined, clientInfo, undefined), {
      headers: mirroredHeaders('server/discover', undefined, () => undefined),
      timeoutMs,
      maxTotalMs: timeoutMs,
    });
  } catch (err) {
    if (err instanceof UndeliveredError || !session.isAlive) throw err;
    if (err instanceof GatewayError && err.kind === 'upstream_timeout') throw err;
    return { kind: 'legacy', reason: (err as Error).message };
  }
  if ('error' in res) return { kind: 'legacy', reason: res.error.message };
  const r = res.result;
  if (!Array.isArray(r.supportedVersions) || !r.supportedVersions.includes(MODERN_VERSION))
    return { kind: 'legacy', reason: 'server/discover names no supported version of ours' };
  const meta = isObject(r._meta) ? r._meta : {};
  return {
    kind: 'modern',
    init: {
      protocolVersion: MODERN_VERSION,
      capabilities: isObject(r.capabilities) ? r.capabilities : {},
      serverInfo: isObject(meta[META_SERVER_INFO]) ? meta[META_SERVER_INFO] : {},
      instructions: typeof r.instructions === 'string' ? r.instructions : undefined,
    },
  };
}

/** Long enough to outlive any quiet period; the stream is reopened when it ends anyway. */
const LISTEN_MS = 24 * 3600_000;
const LIST_CHANGED = [
  ['tools', 'toolsListChanged', 'notifications/tools/list_changed'],
  ['prompts', 'promptsListChanged', 'notifications/prompts/list_changed'],
  ['resources', 'resourcesListChanged', 'notifications/resources/list_changed'],
] as const;

export class ModernLink {
  private readonly uris = new Set<string>();
  private cancellation: Cancellation = { cancel: undefined };
  private generation = 0;
  private retryDelay = 500;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly session: UpstreamSession,
    private readonly capabilities: Record<string, unknown>,
    /** The gateway's catalog session watches lists; an agent's own session only its resource URIs. */
    private readonly watchLists: boolean,
    private readonly unrelated: (msg: JsonRpcMessage) => void,
  ) {}

  start(): void {
    this.open(false);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.cancellation.cancel?.();
  }

  /**
   * resources/subscribe and unsubscribe do not exist in 2026: they become the listen stream's
   * `resourceSubscriptions` (the stream is restarted with the new set) and are answered here.
   */
  answerLocally(method: string, params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    if (method !== 'resources/subscribe' && method !== 'resources/unsubscribe') return undefined;
    const uri = params?.uri;
    if (typeof uri !== 'string') return undefined; // the upstream says what is wrong
    const had = this.uris.has(uri);
    if (method === 'resources/subscribe') this.uris.add(uri);
    else this.uris.delete(uri);
    if (had !== this.uris.has(uri)) this.restart();
    return {};
  }

  private filter(): Record<string, unknown> | undefined {
    const n: Record<string, unknown> = {};
    if (this.watchLists) {
      for (const [cap, flag] of LIST_CHANGED) {
        const c = this.capabilities[cap];
        if (isObject(c) && c.listChanged === true) n[flag] = true;
      }
    }
    if (this.uris.size > 0) n.resourceSubscriptions = [...this.uris];
    return Object.keys(n).length > 0 ? n : undefined;
  }

  private restart(): void {
    clearTimeout(this.retryTimer);
    this.cancellation.cancel?.();
    this.open(false);
  }

  private open(reopened: boolean): void {
    const gen = ++this.generation;
    const notifications = this.filter();
    if (this.stopped || !this.session.isAlive || !notifications) return;
    this.cancellation = { cancel: undefined };
    const ended = (): void => {
      if (gen !== this.generation || this.stopped || !this.session.isAlive) return;
      this.retryTimer = setTimeout(() => this.open(true), this.retryDelay);
      this.retryTimer.unref();
      this.retryDelay = Math.min(this.retryDelay * 2, 30_000);
    };
    this.session
      .request(
        'subscriptions/listen',
        { notifications },
        {
          onRelated: (m) => this.onStream(m),
          cancellation: this.cancellation,
          timeoutMs: LISTEN_MS,
          maxTotalMs: LISTEN_MS,
        },
      )
      .then(ended, ended);
    // Changes made while no stream was open are lost: have the catalog fetched again.
    if (reopened)
      for (const [cap, flag, method] of LIST_CHANGED)
        if (notifications[flag] === true && cap in this.capabilities) this.unrelated({ jsonrpc: '2.0', method });
  }

  private onStream(m: JsonRpcMessage): void {
    if (!('method' in m) || 'id' in m) return;
    if (m.method === 'notifications/subscriptions/acknowledged') {
      this.retryDelay = 500; // the stream works: a later loss starts its backoff afresh
      return;
    }
    this.unrelated(m);
  }
}
