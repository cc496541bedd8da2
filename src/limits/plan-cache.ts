// Request plans are the same for every call of one agent to one tool: built once, not per call
// (their key and bucket names are strings made from templates; measured on the relay's hot path).
// A policy reload makes new AgentLimits objects, so plans of the old policy are simply not found.
import { planRequest, type RequestPlan } from './plan.js';
import type { Rate } from '../config/runtime.js';
import { rememberBucketId } from './store.js';

/** Plans kept per limits object; past this many (agents × tools) the map starts over. */
const MAX_PLANS = 10_000;

interface Cached {
  plan: RequestPlan;
  upstream: string;
  tool: string | undefined;
  server: readonly Rate[];
  global: readonly Rate[];
}

/** One limits object's plans: agent → tool (or upstream, for a call naming no tool) → plan. */
interface Plans {
  count: number;
  byAgent: Map<string, Map<string, Cached>>;
}

export class PlanCache {
  /** Agents without limits of their own share this key. */
  private readonly none = {};
  private readonly byLimits = new WeakMap<object, Plans>();

  /** planRequest's plan, made once per agent limits, agent, upstream and tool. */
  plan(
    agentId: string,
    agent: Parameters<typeof planRequest>[1],
    call: { server: string; tool: string | undefined },
    server: readonly Rate[],
    global: readonly Rate[],
  ): RequestPlan {
    const owner = agent ?? this.none;
    // Found by its parts, not by a key string joined per call: hashing that string was most of a hit.
    const name = call.tool ?? call.server;
    const hit = this.byLimits.get(owner)?.byAgent.get(agentId)?.get(name);
    // The rates of upstreams and the global ones are compared by identity: new config, new plan.
    if (hit && hit.upstream === call.server && hit.tool === call.tool && hit.server === server && hit.global === global)
      return hit.plan;
    const plan = planRequest(agentId, agent, call, server, global);
    // Its keys are checked on every call: their bucket ids are made once, here.
    for (const k of plan.requests) rememberBucketId(k);
    this.keep(owner, agentId, name, { plan, upstream: call.server, tool: call.tool, server, global });
    return plan;
  }

  private keep(owner: object, agentId: string, name: string, entry: Cached): void {
    let plans = this.byLimits.get(owner);
    if (!plans || plans.count >= MAX_PLANS) this.byLimits.set(owner, (plans = { count: 0, byAgent: new Map() }));
    let mine = plans.byAgent.get(agentId);
    if (!mine) plans.byAgent.set(agentId, (mine = new Map()));
    if (!mine.has(name)) plans.count++;
    mine.set(name, entry);
  }
}
