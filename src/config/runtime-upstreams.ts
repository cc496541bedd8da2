// The runtime form of one upstream (stdio, Streamable HTTP, SSE; replicas and balancing) and its conversion from the parsed config; separate so runtime.ts keeps to the whole config.
import { argSecrets } from './arg-secrets.js';
import { resolve } from 'node:path';
import type { UpstreamSpec } from './schema.js';
import { toMs, toRates, type Rate } from './runtime-units.js';
import { upstreamAuthConfig, type UpstreamAuth } from '../credentials/runtime.js';

export type PinAction = 'hide' | 'block' | 'warn';

interface UpstreamBase {
  name: string;
  /** Requests to this upstream from all agents together. */
  rates: readonly Rate[];
  enabled: boolean;
  isolation: 'shared' | 'per_agent' | 'per_session';
  maxSessions: number;
  /** Largest single message accepted from the upstream (JSON body, SSE event, stdio line). */
  maxResponseBytes: number;
  /** Entries kept per list of the catalog (the rest dropped, see catalog.ts). */
  maxCatalogEntries: number;
  /** Bytes fetched per list of the catalog (pages past it not asked for, see catalog.ts). */
  maxCatalogBytes: number;
  idleTimeoutMs: number;
  /** Declare roots on the shared session (roots/list then goes to the asking agent). */
  sharedRoots: boolean;
  timeouts: { connectMs: number; requestMs: number; maxTotalMs: number };
  balance: BalanceConfig;
  /** What happens when one of this upstream's pinned tools changes (pins.action unless overridden). */
  pinAction: PinAction;
  /** The MCP era it speaks; `auto` probes with server/discover (legacy SSE is always 2025). */
  protocol: UpstreamProtocol;
  /** Credentials per user (upstreams.<name>.auth); undefined: the upstream's own headers/env only. */
  auth: UpstreamAuth | undefined;
}
export type UpstreamProtocol = 'auto' | '2025' | '2026';
export interface ReplicaConfig {
  url: string;
  weight: number;
}
export interface BalanceConfig {
  strategy: 'least_sessions' | 'round_robin' | 'weighted' | 'consistent_hash';
  healthCheck: {
    enabled: boolean;
    intervalMs: number;
    timeoutMs: number;
    unhealthyThreshold: number;
    healthyThreshold: number;
    path: string | undefined;
  };
  outlier: { consecutiveFailures: number; ejectionMs: number; maxEjectionPercent: number };
}
export interface StdioUpstreamConfig extends UpstreamBase {
  transport: 'stdio';
  command: string;
  args: readonly string[];
  /** The credentials among `args` (src/config/arg-secrets.ts), cut from what the server says. */
  argSecrets: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
}
export interface HttpUpstreamConfig extends UpstreamBase {
  transport: 'streamable_http' | 'sse';
  /** The first replica's URL (for logs); `replicas` lists them all. */
  url: string;
  replicas: readonly ReplicaConfig[];
  headers: Readonly<Record<string, string>>;
  connections: number;
}
export type UpstreamConfig = StdioUpstreamConfig | HttpUpstreamConfig;

export function upstreamConfig(
  name: string,
  u: UpstreamSpec,
  baseDir: string,
  defaultPinAction: PinAction,
  /** Values `${VAR}`s put into its `args`. */
  expandedArgs: readonly string[] = [],
): UpstreamConfig {
  const base: UpstreamBase = {
    name,
    pinAction: u.pin_action ?? defaultPinAction,
    rates: toRates(u.limits?.requests ?? []),
    enabled: u.enabled,
    isolation: u.isolation,
    maxSessions: u.max_sessions,
    maxResponseBytes: u.max_response_bytes,
    maxCatalogEntries: u.max_catalog_entries,
    maxCatalogBytes: u.max_catalog_bytes,
    idleTimeoutMs: toMs(u.idle_timeout),
    sharedRoots: u.shared_roots,
    timeouts: {
      connectMs: toMs(u.timeouts.connect),
      requestMs: toMs(u.timeouts.request),
      maxTotalMs: toMs(u.timeouts.max_total),
    },
    balance: balanceConfig(u.balance),
    protocol: u.transport === 'sse' ? '2025' : (String(u.protocol) as UpstreamProtocol),
    auth: upstreamAuthConfig(u.auth, baseDir),
  };
  if (u.transport === 'stdio') {
    return {
      ...base,
      transport: 'stdio',
      command: u.command,
      args: u.args,
      argSecrets: argSecrets(u.args, expandedArgs),
      env: u.env,
      cwd: resolve(baseDir, u.cwd ?? '.'), // relative paths in args mean the same wherever tollgate runs
    };
  }
  const replicas = u.transport === 'streamable_http' && u.replicas ? u.replicas : [{ url: u.url ?? '', weight: 1 }];
  return {
    ...base,
    transport: u.transport,
    url: replicas[0]?.url ?? '',
    replicas,
    headers: u.headers,
    connections: u.transport === 'streamable_http' ? u.connections : 4,
  };
}

function balanceConfig(b: UpstreamSpec['balance']): BalanceConfig {
  const h = b.health_check;
  const o = b.outlier_detection;
  return {
    strategy: b.strategy,
    healthCheck: {
      enabled: h.enabled,
      intervalMs: toMs(h.interval),
      timeoutMs: toMs(h.timeout),
      unhealthyThreshold: h.unhealthy_threshold,
      healthyThreshold: h.healthy_threshold,
      path: h.path,
    },
    outlier: {
      consecutiveFailures: o.consecutive_failures,
      ejectionMs: toMs(o.ejection),
      maxEjectionPercent: o.max_ejection_percent,
    },
  };
}
