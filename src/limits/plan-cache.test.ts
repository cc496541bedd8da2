import { describe, expect, it } from 'vitest';
import { compileAgentLimits, planRequest } from './plan.js';
import { agentLimitsSchema } from './schema.js';
import { PlanCache } from './plan-cache.js';

const limits = () =>
  compileAgentLimits(
    agentLimitsSchema.parse({
      requests: [{ limit: 60, per: '1m' }],
      tools: [{ tool: 'srv__*', requests: [{ limit: 5, per: '1h' }] }],
    }),
  );
const call = { server: 'srv', tool: 'srv__read' };

describe('PlanCache', () => {
  it('gives the plan planRequest makes, and the same one for the next call', () => {
    const cache = new PlanCache();
    const agent = limits();
    const first = cache.plan('alice', agent, call, [], []);
    expect(first).toEqual(planRequest('alice', agent, call, [], []));
    expect(cache.plan('alice', agent, call, [], [])).toEqual(first);
  });

  it('reuses a plan only for the same agent, tool, limits and rates', () => {
    const cache = new PlanCache();
    const agent = limits();
    const rates: [] = [];
    const global: [] = [];
    const a = cache.plan('alice', agent, call, rates, global);
    expect(cache.plan('alice', agent, call, rates, global)).toBe(a);
    expect(cache.plan('bob', agent, call, rates, global).requests[0]?.key).toBe('a:bob:req:60000');
    expect(cache.plan('alice', agent, { server: 'srv', tool: 'srv__write' }, rates, global)).not.toBe(a);
    // A policy reload compiles new limits; a config with other upstream rates gives another array.
    const reloaded = cache.plan('alice', limits(), call, rates, global);
    expect(reloaded).not.toBe(a);
    expect(reloaded).toEqual(a);
    const withRate = cache.plan('alice', agent, call, [{ limit: 10, periodMs: 1000 }], global);
    expect(withRate.requests.map((k) => k.name)).toContain('upstream srv requests 10/1s');
  });

  it('keeps a tool call and a call naming no tool apart, even when the tool is named like an upstream', () => {
    const cache = new PlanCache();
    const agent = limits();
    const none: [] = []; // the same rates each time, as the gateway passes them
    const toolCall = cache.plan('alice', agent, call, none, none);
    const upstreamCall = cache.plan('alice', agent, { server: 'srv__read', tool: undefined }, none, none);
    expect(upstreamCall).toEqual(planRequest('alice', agent, { server: 'srv__read', tool: undefined }, [], []));
    expect(cache.plan('alice', agent, call, none, none)).toEqual(toolCall);
    expect(toolCall.requests).toHaveLength(2); // the agent's limit and the srv__* one
    expect(upstreamCall.requests).toHaveLength(1);
  });
});
