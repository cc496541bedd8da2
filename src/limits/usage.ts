// An agent's usage against each of its limits, read without charging anything.
import type { LimitStore } from './store.js';
import type { AgentLimits } from './plan.js';
import { planRequest } from './plan.js';

export interface AgentUsage {
  name: string;
  kind: 'requests' | 'tokens' | 'concurrency';
  limit: number;
  used: number;
  remaining: number;
  periodMs?: number;
  resetMs?: number;
}

export async function agentUsage(
  store: LimitStore,
  agentId: string,
  limits: AgentLimits | undefined,
): Promise<AgentUsage[]> {
  if (!limits) return [];
  // Every per-agent bucket: plan a call to a tool that matches each per-tool pattern.
  const plan = planRequest(agentId, limits, { server: '', tool: undefined }, [], []);
  const toolKeys = limits.tools.flatMap(
    (t) =>
      planRequest(agentId, { ...limits, requests: [], tools: [t] }, { server: '', tool: t.pattern }, [], []).requests,
  );
  const named = [
    ...[...plan.requests, ...toolKeys].map((k) => ({ ...k, kind: 'requests' as const })),
    ...plan.tokens.map((k) => ({ ...k, cost: 1, kind: 'tokens' as const })),
  ];
  if (named.length === 0) return [];
  const peek = await store.peek(named.map(({ name: _n, kind: _k, ...k }) => ({ ...k, cost: 0 })));
  return named.map((k, i) => {
    const r = peek.results[i];
    const remaining = Math.max(0, r?.remaining ?? k.limit);
    return {
      name: k.name,
      kind: k.kind,
      limit: k.limit,
      used: k.limit - remaining,
      remaining,
      periodMs: k.periodMs,
      resetMs: r?.resetMs ?? 0,
    };
  });
}
