// The gateway's limits as the rest sees them: token counting, the MCP limits step's options, an agent's usage;
// separate so gateway.ts keeps to assembly.
import type { Logger } from 'pino';
import type { Rate, RuntimeConfig } from './config/runtime.js';
import type { PolicySet } from './policy/policy-set.js';
import type { LimitStore } from './limits/store.js';
import { createTokenCounter, type TokenCounter } from './limits/token-counter.js';
import type { LimitsStepOptions } from './limits/step.js';
import { agentUsage, type AgentUsage } from './limits/usage.js';
import type { LlmRoutes } from './llm/routes.js';

/** The counter of tool-result tokens; undefined when limits.tool_result_tokens is off. */
export function toolResultTokenCounter(config: RuntimeConfig): TokenCounter | undefined {
  const trt = config.limits.toolResultTokens;
  return trt.enabled ? createTokenCounter(trt.encoding) : undefined;
}

/**
 * Loads the tokenizers LLM budgets and tool-result token limits count with (tiktoken: ~2 s,
 * synchronous), so no agent's first call pays for it. Called at start, before listening.
 */
export function loadTokenizers(llm: LlmRoutes | undefined, tokenCounter: TokenCounter | undefined, log: Logger): void {
  const started = performance.now();
  const encodings = llm?.proxy.warmTokenizers() ?? [];
  tokenCounter?.warm();
  if (encodings.length > 0 || tokenCounter)
    log.info({ encodings, ms: Math.round(performance.now() - started) }, 'tokenizers loaded');
}

/** The MCP-level limits step's dependencies (see app.ts for the steps' order). */
export function limitsStepOptions(
  config: RuntimeConfig,
  store: LimitStore,
  policies: () => PolicySet,
  tokenCounter: TokenCounter | undefined,
): LimitsStepOptions {
  const rates = new Map(config.upstreams.map((u) => [u.name, u.rates]));
  const none: readonly Rate[] = Object.freeze([]);
  return {
    store,
    policies,
    // The same array each time: request plans are cached while their rates stay the same object.
    serverRates: (server) => rates.get(server) ?? none,
    global: config.limits.global,
    tokenCounter,
    defaultResultEstimate: config.limits.toolResultTokens.defaultEstimate,
    concurrencyTtlMs: config.limits.concurrencyTtlMs,
  };
}

/** An agent's usage against each of its limits (admin API and page). */
export function usageOf(store: LimitStore, policies: PolicySet, agentId: string): Promise<AgentUsage[]> {
  return agentUsage(store, agentId, policies.limitsFor(agentId));
}
