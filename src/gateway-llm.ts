// The /v1 LLM API as the gateway wires it; separate so gateway.ts keeps to assembly.
import type { Logger } from 'pino';
import type { RuntimeConfig } from './config/runtime.js';
import type { PolicySet } from './policy/policy-set.js';
import type { LimitStore } from './limits/store.js';
import type { AuditRecorder } from './audit/step.js';
import type { Tracing } from './telemetry/tracing.js';
import { llmSpans } from './telemetry/llm.js';
import { llmRoutes, type LlmRoutes } from './llm/routes.js';

/** The LLM routes; undefined when `llm:` is not configured. They count against the gateway's global limits. */
export function gatewayLlmRoutes(
  config: RuntimeConfig,
  deps: {
    store: LimitStore;
    policies: () => PolicySet;
    recorder: AuditRecorder;
    log: Logger;
    tracing: Tracing | undefined;
  },
): LlmRoutes | undefined {
  return config.llm
    ? llmRoutes({
        config: config.llm,
        store: deps.store,
        policies: deps.policies,
        recorder: deps.recorder,
        log: deps.log,
        globalRates: config.limits.global,
        traced: deps.tracing && llmSpans(deps.tracing),
      })
    : undefined;
}
