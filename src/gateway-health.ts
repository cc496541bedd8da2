// Readiness and config-reload classification of a running gateway; separate so gateway.ts keeps to assembly.
import type { RuntimeConfig } from './config/runtime.js';
import type { Upstream } from './upstream/upstream.js';
import type { LimitStore } from './limits/store.js';

export interface Readiness {
  ready: boolean;
  reason?: string;
  upstreams: Record<string, { state: string; error?: string }>;
  limits: { store: string; state: string; failureMode?: string };
}

/** Ready when at least one upstream is usable; the body says why not. */
export function readinessOf(
  upstreamList: readonly Upstream[],
  cfg: RuntimeConfig['limits'],
  limitStore: LimitStore,
  draining: boolean,
): Readiness {
  const upstreams = Object.fromEntries(
    upstreamList.map((u) => [
      u.name,
      u.lastError && u.state !== 'ready' ? { state: u.state, error: u.lastError } : { state: u.state },
    ]),
  );
  const state = (limitStore as { state?: string }).state ?? 'healthy';
  const limits =
    cfg.store === 'redis' ? { store: 'redis', state, failureMode: cfg.redis.failureMode } : { store: 'memory', state };
  if (draining) return { ready: false, reason: 'shutting down', upstreams, limits };
  // An unreachable Redis is fine while a fallback answers; with fail_closed every call is refused.
  if (state === 'degraded' && cfg.redis.failureMode === 'fail_closed')
    return { ready: false, reason: 'limits store unreachable (fail_closed)', upstreams, limits };
  // A gateway for LLM traffic only has no MCP upstream to wait for.
  const ready = upstreamList.length === 0 || upstreamList.some((u) => u.state === 'ready');
  return ready ? { ready, upstreams, limits } : { ready, reason: 'no upstream is ready', upstreams, limits };
}

/**
 * The changed config sections: agent credentials (`auth`, unless anonymous access or the resource
 * changed) and `log` are applied in place by the callbacks; the rest need a restart.
 */
export function applyChangedSections(
  prev: RuntimeConfig,
  next: RuntimeConfig,
  apply: { auth: () => void; log: () => void },
): { applied: string[]; restartNeeded: string[] } {
  const changed = (Object.keys(next) as (keyof RuntimeConfig)[]).filter(
    (k) => JSON.stringify(next[k]) !== JSON.stringify(prev[k]),
  );
  const applied: string[] = [];
  const restartNeeded: string[] = [];
  for (const k of changed) {
    if (
      k === 'auth' &&
      next.auth.allowAnonymous === prev.auth.allowAnonymous &&
      JSON.stringify(next.auth.resource) === JSON.stringify(prev.auth.resource)
    ) {
      apply.auth();
      applied.push('auth');
    } else if (k === 'log') {
      apply.log();
      applied.push('log');
    } else if (k !== 'instanceId') {
      restartNeeded.push(k);
    }
  }
  return { applied, restartNeeded };
}
