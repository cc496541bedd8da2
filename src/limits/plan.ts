// Which buckets a request is charged to: the agent's request limits, its per-tool buckets, the
// upstream's and the global limits, and its token budgets. Keys carry a tag so that an agent's keys
// share one Redis Cluster slot (one atomic script); server and global keys form their own groups.
import { compileGlob, type Matcher } from '../policy/glob.js';
import type { Rate } from '../config/runtime.js';
import type { AgentLimitsInput } from './schema.js';
import { perToMs } from './schema.js';
import type { LimitKey } from './store.js';
import type { BudgetKey } from './reservation.js';

export interface AgentLimits {
  requests: readonly Rate[];
  tools: readonly { pattern: string; matches: Matcher; requests: readonly Rate[] }[];
  tokens: readonly Rate[];
  concurrency: number | undefined;
}

export function compileAgentLimits(l: AgentLimitsInput): AgentLimits {
  const rates = (rs: AgentLimitsInput['requests']): Rate[] =>
    rs.map((r) => ({ limit: r.limit, periodMs: perToMs(r.per) }));
  return {
    requests: rates(l.requests),
    tools: l.tools.map((t) => ({ pattern: t.tool, matches: compileGlob(t.tool), requests: rates(t.requests) })),
    tokens: rates(l.tokens),
    concurrency: l.concurrency,
  };
}

const span = (ms: number): string =>
  ms % 86_400_000 === 0
    ? `${ms / 86_400_000}d`
    : ms % 3_600_000 === 0
      ? `${ms / 3_600_000}h`
      : ms % 60_000 === 0
        ? `${ms / 60_000}m`
        : ms % 1000 === 0
          ? `${ms / 1000}s`
          : `${ms}ms`;

/** A bucket with the name shown to agents, operators and the audit (e.g. `agent requests 60/1m`). */
export interface NamedKey extends LimitKey {
  name: string;
}

const key = (name: string, id: string, tag: string, r: Rate, cost = 1): NamedKey => ({
  name: `${name} ${r.limit}/${span(r.periodMs)}`,
  key: `${id}:${r.limit}:${r.periodMs}`,
  tag,
  limit: r.limit,
  periodMs: r.periodMs,
  cost,
});

export interface RequestPlan {
  requests: NamedKey[];
  tokens: (BudgetKey & { name: string })[];
  concurrency: number | undefined;
}

export function planRequest(
  agentId: string,
  agent: AgentLimits | undefined,
  call: { server: string; tool: string | undefined },
  server: readonly Rate[],
  global: readonly Rate[],
): RequestPlan {
  const requests: NamedKey[] = [];
  for (const r of agent?.requests ?? []) requests.push(key('agent requests', `a:${agentId}:req`, agentId, r));
  if (call.tool !== undefined) {
    for (const t of agent?.tools ?? []) {
      if (!t.matches(call.tool)) continue;
      for (const r of t.requests)
        requests.push(key(`agent requests to ${t.pattern}`, `a:${agentId}:tool:${t.pattern}`, agentId, r));
    }
  }
  for (const r of server)
    requests.push(key(`upstream ${call.server} requests`, `s:${call.server}:req`, `s:${call.server}`, r));
  for (const r of global) requests.push(key('global requests', 'g:req', 'global', r));
  const tokens = (agent?.tokens ?? []).map((r) => {
    const { cost: _cost, ...k } = key('agent tokens', `a:${agentId}:tok`, agentId, r);
    return k;
  });
  return { requests, tokens, concurrency: agent?.concurrency };
}
