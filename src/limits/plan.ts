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

/**
 * A bucket per rate, named by its period and not its limit: a reload that changes a limit keeps the
 * bucket and what was spent in it (gcra.ts rebases it to the new limit), where a new bucket would
 * hand an agent whose limit was just lowered a fresh allowance. A second rate of the same period in
 * one list gets its own bucket (`:2`, …).
 */
function keys(name: string, id: string, tag: string, rates: readonly Rate[], out: NamedKey[], cost = 1): void {
  rates.forEach((r, i) => {
    let n = 1;
    for (let j = 0; j < i; j++) if (rates[j]!.periodMs === r.periodMs) n++;
    out.push({
      name: `${name} ${r.limit}/${span(r.periodMs)}`,
      key: n === 1 ? `${id}:${r.periodMs}` : `${id}:${r.periodMs}:${n}`,
      tag,
      limit: r.limit,
      periodMs: r.periodMs,
      cost,
    });
  });
}

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
  keys('agent requests', `a:${agentId}:req`, agentId, agent?.requests ?? [], requests);
  if (call.tool !== undefined) {
    for (const t of agent?.tools ?? [])
      if (t.matches(call.tool))
        keys(`agent requests to ${t.pattern}`, `a:${agentId}:tool:${t.pattern}`, agentId, t.requests, requests);
  }
  keys(`upstream ${call.server} requests`, `s:${call.server}:req`, `s:${call.server}`, server, requests);
  keys('global requests', 'g:req', 'global', global, requests);
  const named: NamedKey[] = [];
  keys('agent tokens', `a:${agentId}:tok`, agentId, agent?.tokens ?? [], named);
  const tokens = named.map(({ cost: _cost, ...k }) => k);
  return { requests, tokens, concurrency: agent?.concurrency };
}
