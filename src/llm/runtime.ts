// Parsed `llm:` block → the frozen runtime form (ms, camelCase, defaults resolved).
import { toMs } from '../config/runtime.js';
import type { ParsedLlmConfig, Strategy } from './schema.js';

export type ApiKind = 'openai' | 'anthropic';

export interface LlmUpstreamConfig {
  name: string;
  kind: ApiKind;
  /** scheme://host[:port], the key of the connection pool. */
  origin: string;
  /** Path prefix from base_url, without a trailing slash (`/v1` for OpenAI's default). */
  basePath: string;
  apiKey: string | undefined;
  headers: Readonly<Record<string, string>>;
  models: readonly string[];
  weight: number;
  priority: number;
  timeouts: { connectMs: number; firstByteMs: number; totalMs: number };
  maxConcurrency: number | undefined;
  connections: number;
}

export interface LlmDeploymentConfig {
  upstream: string;
  model: string;
  weight: number;
  priority: number;
}

export interface LlmAliasConfig {
  name: string;
  strategy: Strategy;
  deployments: readonly LlmDeploymentConfig[];
}

export interface LlmConfig {
  upstreams: readonly LlmUpstreamConfig[];
  aliases: readonly LlmAliasConfig[];
  strategy: Strategy;
  retries: { attempts: number; backoffBaseMs: number; backoffMaxMs: number; maxRetryAfterMs: number };
  breaker: { failures: number; cooldownMs: number };
  /** USD per 1M tokens. */
  prices: Readonly<Record<string, { input: number; output: number }>>;
  defaultMaxTokens: number;
  drainTimeoutMs: number;
  maxBodyBytes: number;
  /** Cap on a non-streaming upstream answer (it is read whole before the agent gets it). */
  maxResponseBytes: number;
}

const DEFAULT_BASE: Record<ApiKind, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

/**
 * An upstream whose api_key came out empty (`${OPENAI_API_KEY:-}` with the variable unset) is left
 * out, and so are alias deployments on it: one config serves /v1 for whichever keys are set.
 */
export const keylessUpstreams = (p: ParsedLlmConfig): string[] =>
  Object.entries(p.upstreams)
    .filter(([, u]) => u.api_key === '')
    .map(([name]) => name);

export function toLlmRuntime(p: ParsedLlmConfig): LlmConfig {
  const off = new Set(keylessUpstreams(p));
  const upstreams = Object.entries(p.upstreams)
    .filter(([name]) => !off.has(name))
    .map(([name, u]): LlmUpstreamConfig => {
      const url = new URL(u.base_url ?? DEFAULT_BASE[u.kind]);
      return {
        name,
        kind: u.kind,
        origin: url.origin,
        basePath: url.pathname.replace(/\/+$/, ''),
        apiKey: u.api_key,
        headers: { ...u.headers },
        models: [...u.models],
        weight: u.weight,
        priority: u.priority,
        timeouts: {
          connectMs: toMs(u.timeouts.connect),
          firstByteMs: toMs(u.timeouts.first_byte),
          totalMs: toMs(u.timeouts.total),
        },
        maxConcurrency: u.max_concurrency,
        connections: u.connections,
      };
    });
  const byName = new Map(upstreams.map((u) => [u.name, u]));
  const aliases = Object.entries(p.models).map(
    ([name, a]): LlmAliasConfig => ({
      name,
      strategy: a.strategy ?? p.strategy,
      deployments: a.deployments
        .filter((d) => !off.has(d.upstream))
        .map((d) => {
          const u = byName.get(d.upstream);
          if (!u) throw new Error(`llm.models.${name}: unknown llm upstream ${d.upstream}`);
          return {
            upstream: d.upstream,
            model: d.model,
            weight: d.weight ?? u.weight,
            priority: d.priority ?? u.priority,
          };
        }),
    }),
  );
  return {
    upstreams,
    aliases,
    strategy: p.strategy,
    retries: {
      attempts: p.retries.attempts,
      backoffBaseMs: toMs(p.retries.backoff_base),
      backoffMaxMs: toMs(p.retries.backoff_max),
      maxRetryAfterMs: toMs(p.retries.max_retry_after),
    },
    breaker: { failures: p.circuit_breaker.failures, cooldownMs: toMs(p.circuit_breaker.cooldown) },
    prices: { ...p.prices },
    defaultMaxTokens: p.default_max_tokens,
    drainTimeoutMs: toMs(p.drain_timeout),
    maxBodyBytes: p.max_body_bytes,
    maxResponseBytes: p.max_response_bytes,
  };
}
