// Request plans are the same for every call of one agent to one tool: built once, not per call
// (their key and bucket names are strings made from templates; measured on the relay's hot path).
// A policy reload makes new AgentLimits objects, so plans of the old policy are simply not found.
import { planRequest, type RequestPlan } from './plan.js';
import type { Rate } from '../config/runtime.js';

/** Plans kept per limits object; past this many (agents × tools) the map starts over. */
const MAX_PLANS = 10_000;

interface Cached {
  plan: RequestPlan;
  server: readonly Rate[];
  global: readonly Rate[];
}

export class PlanCache {
  /** Agents without limits of their own share this key. */
  private readonly none = {};
  private readonly byLimits = new WeakMap<object, Map<string, Cached>>();

  /** planRequest's plan, made once per agent limits, agent, upstream and tool. */
  plan(...args: Parameters<typeof planRequest>): RequestPlan {
    const [agentId, agent, call, server, global] = args;
    const owner = agent ?? this.none;
    let plans = this.byLimits.get(owner);
    if (!plans) this.byLimits.set(owner, (plans = new Map()));
    const key = `${agentId}\u0000${call.server}\u0000${call.tool ?? ''}`;
    const hit = plans.get(key);
    // The rates of upstreams and the global ones are compared by identity: new config, new plan.
    if (hit && hit.server === server && hit.global === global) return hit.plan;
    const plan = planRequest(...args);
    if (plans.size >= MAX_PLANS) plans.clear();
    plans.set(key, { plan, server, global });
    return plan;
  }
}
