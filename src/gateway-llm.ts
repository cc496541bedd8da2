// The /v1 LLM API as the gateway wires it (its routes and its fast lane); separate so gateway.ts keeps to assembly.
import type { Logger } from 'pino';
import type { RuntimeConfig } from './config/runtime.js';
import type { PolicySet } from './policy/policy-set.js';
import type { LimitStore } from './limits/store.js';
import type { AuditRecorder } from './audit/step.js';
import type { Tracing } from './telemetry/tracing.js';
import { llmSpans } from './telemetry/llm.js';
import { llmRoutes, type LlmRoutes } from './llm/routes.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator } from './auth/identity.js';
import { originCheck } from './http/origin-guard.js';
import { llmFastLane, type LlmLaneOptions } from './llm/fast-lane.js';

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

type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The /v1 fast lane (src/llm/fast-lane.ts) in front of `next`: the agent routes' HTTP steps of
 * src/app.ts (Host/Origin guard, body cap, authentication), same order, same checks, then the call.
 * None without `llm:`, and none with tracing (its HTTP span is a Hono middleware).
 */
export function gatewayLlmLane(
  config: RuntimeConfig,
  llm: LlmRoutes | undefined,
  deps: { authenticators: readonly Authenticator[]; log: Logger; tracing: Tracing | undefined },
): ((next: NodeListener) => NodeListener) | undefined {
  if (!llm || !config.llm || deps.tracing) return undefined;
  const options: LlmLaneOptions = {
    proxy: llm.proxy,
    originProblem: originCheck({
      allowedOrigins: config.server.allowedOrigins,
      allowedHosts: config.server.allowedHosts,
      publicUrl: config.server.publicUrl,
    }),
    maxBodyBytes: config.llm.maxBodyBytes,
    // The gateway's own array: it is refilled in place once the listen address is known.
    authenticators: deps.authenticators,
    allowAnonymous: config.auth.allowAnonymous,
    onError: (err: unknown) => deps.log.error({ err }, 'unhandled error'),
  };
  return (next) => llmFastLane(options, next);
}
