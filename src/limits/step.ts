// MCP step (after authorize): rate limits, token budgets and concurrency for routed calls. One
// all-or-nothing check per call. With tool-result tokens counted, a call reserves an estimate of its
// result (result-estimate.ts: the agent's recent p95 for that tool, or `default_estimate`), is refused when that
// does not fit, and settles to the counted result afterwards.
import { GatewayError } from '../errors.js';
import type { McpCall, McpStep } from '../relay/scope.js';
import { neverThrows } from '../never-throws.js';
import type { Rate } from '../config/runtime.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import type { LimitStore, CheckResult } from './store.js';
import type { RequestPlan } from './plan.js';
import { PlanCache } from './plan-cache.js';
import { reserve } from './reservation.js';
import { resultText, type TokenCounter } from './token-counter.js';
import { ResultEstimator } from './result-estimate.js';

type McpNext = Parameters<McpStep>[1];

export interface LimitsStepOptions {
  store: LimitStore;
  policies: () => PolicySet;
  serverRates: (server: string) => readonly Rate[];
  global: readonly Rate[];
  /** Set when tool-result tokens count against budgets. */
  tokenCounter: TokenCounter | undefined;
  /** Tokens a call to a tool with no recorded result reserves (`limits.tool_result_tokens.default_estimate`). */
  defaultResultEstimate: number;
  concurrencyTtlMs: number;
}

function refusal(call: McpCall, plan: RequestPlan, result: CheckResult, reserved: number): JsonRpcResponse {
  const hit = result.results.find((r) => !r.allowed);
  const token = plan.tokens.find((k) => k.key === hit?.key);
  const limit = plan.requests.find((k) => k.key === hit?.key)?.name ?? token?.name ?? 'limit';
  const kind = token ? 'budget_exceeded' : 'rate_limited';
  const retryAfterSeconds = result.retryAfterMs < 0 ? null : Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  const reason =
    result.reason === 'store_unavailable'
      ? 'the limits store is unavailable'
      : token
        ? `token budget spent (${limit}): this call reserves ${reserved} tokens for its result`
        : `rate limit reached (${limit})`;
  call.decision = { decision: kind, rule: limit, reason };
  return new GatewayError(kind, reason, { retryAfterSeconds, limit, remaining: hit?.remaining ?? 0 }).toJsonRpc(
    call.request.id,
  );
}

/** Request counts only: one check, and nothing to settle once the call returns. */
function countRequests(store: LimitStore, call: McpCall, plan: RequestPlan, next: McpNext): Promise<JsonRpcResponse> {
  const req = { keys: plan.requests };
  const checked = store.checkNow ? store.checkNow(req) : store.check(req);
  if (checked instanceof Promise) return checked.then((r) => admit(r, call, plan, next));
  return admit(checked, call, plan, next);
}

const admit = (r: CheckResult, call: McpCall, plan: RequestPlan, next: McpNext): Promise<JsonRpcResponse> =>
  r.allowed ? next() : Promise.resolve(refusal(call, plan, r, 0));

export function limitsStep(opts: LimitsStepOptions): McpStep {
  const estimates = new ResultEstimator({ defaultTokens: opts.defaultResultEstimate });
  const plans = new PlanCache();

  // Not async, like the relay's other pass-through steps: a call with request limits only (the
  // common case) on the memory store goes on without a promise and microtask turns of this step.
  const step: McpStep = (call, next) => {
    const t = call.target;
    if (!t) return next();
    const agentId = call.scope.agentId;
    const store = call.limitsStore ?? opts.store;
    const isToolCall = call.request.method === 'tools/call';
    const plan = plans.plan(
      agentId,
      opts.policies().limitsFor(agentId, call.scope.identity.groups),
      { server: t.server, tool: isToolCall ? t.canonical : undefined },
      opts.serverRates(t.server),
      opts.global,
    );
    const countTokens = opts.tokenCounter !== undefined && isToolCall && plan.tokens.length > 0;
    const leased = plan.concurrency && isToolCall;
    if (plan.requests.length === 0 && !countTokens && !leased) return next();
    if (!countTokens && !leased) return countRequests(store, call, plan, next);
    return guarded(call, next, store, plan, countTokens, Boolean(leased));
  };

  /** With a concurrency lease or a token reservation: both are settled once the call returns. */
  async function guarded(
    call: McpCall,
    next: McpNext,
    store: LimitStore,
    plan: RequestPlan,
    countTokens: boolean,
    leased: boolean,
  ): Promise<JsonRpcResponse> {
    const agentId = call.scope.agentId;
    const lease =
      leased && plan.concurrency
        ? await store.acquire(`a:${agentId}:inflight`, plan.concurrency, opts.concurrencyTtlMs)
        : undefined;
    if (lease && !lease.ok) {
      const reason = `too many calls in flight (agent concurrency ${plan.concurrency})`;
      call.decision = { decision: 'rate_limited', rule: `agent concurrency ${plan.concurrency}`, reason };
      return new GatewayError('rate_limited', reason, {
        retryAfterSeconds: 1,
        limit: `agent concurrency ${plan.concurrency}`,
        remaining: 0,
      }).toJsonRpc(call.request.id);
    }
    // Never more than the smallest budget: a guess must not make a tool uncallable for good.
    const estimateKey = countTokens ? `${agentId}\u0000${call.target?.canonical}` : '';
    const estimate = countTokens ? Math.min(estimates.estimate(estimateKey), ...plan.tokens.map((k) => k.limit)) : 0;
    try {
      const r = await reserve(store, countTokens ? plan.tokens : [], estimate, plan.requests);
      if (!r.allowed) return refusal(call, plan, r.result, estimate);
      let settled = false;
      try {
        const res = await next();
        if (countTokens && opts.tokenCounter) {
          const used = 'result' in res ? await opts.tokenCounter.count(resultText(res.result)) : 0;
          if ('result' in res) estimates.observe(estimateKey, used);
          settled = true;
          await r.settle(used);
          call.tokensCharged = used;
        }
        return res;
      } finally {
        // No result reached the agent (the relay threw): give the token estimate back.
        if (countTokens && !settled) await r.settle(0);
      }
    } finally {
      // A cancelled call may still run upstream: its slot is freed when the upstream would have
      // timed out, not now (else cancel-and-call again runs any number of calls at the upstream).
      if (lease && call.lingerMs !== undefined) setTimeout(() => void lease.release(), call.lingerMs).unref();
      else if (lease) await lease.release(); // (not `await lease?.release()`: a turn per call for nothing)
    }
  }

  return neverThrows(step);
}
