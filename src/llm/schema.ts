// The `llm:` config block: OpenAI- and Anthropic-compatible upstreams, model aliases over pools of
// deployments, routing strategy, retries, circuit breaker and prices. snake_case like the rest of
// the YAML; `toLlmRuntime` (runtime.ts) turns it into the form the proxy runs on.
import { z } from 'zod';
import { duration, serverNameSchema } from '../config/primitives.js';

export const strategySchema = z
  .enum(['weighted_round_robin', 'least_latency', 'least_in_flight', 'priority'])
  .describe(
    'weighted_round_robin: split by weight; least_latency: lowest EWMA time to first byte; least_in_flight: fewest calls in flight per weight; priority: lowest priority number first, next tier on failure',
  );

const upstream = z
  .object({
    kind: z.enum(['openai', 'anthropic']).describe('the API the upstream speaks'),
    base_url: z
      .url()
      .optional()
      .describe(
        'as the vendor SDK takes it: openai default https://api.openai.com/v1 (paths appended: /chat/completions), anthropic default https://api.anthropic.com (/v1/messages appended)',
      ),
    api_key: z
      .string()
      .optional()
      .describe('sent as `Authorization: Bearer` (openai) or `x-api-key` (anthropic); usually ${ENV_VAR}'),
    headers: z.record(z.string(), z.string()).default({}).describe('extra static headers sent upstream'),
    models: z.array(z.string().min(1)).default([]).describe('model names this upstream serves under their own name'),
    weight: z.number().positive().default(1),
    priority: z.number().int().nonnegative().default(0).describe('lower is tried first by the priority strategy'),
    timeouts: z
      .object({
        connect: duration.default('10s'),
        first_byte: duration
          .default('2m')
          .describe('until response headers (and, streaming, the first chunk); also the idle limit between chunks'),
        total: duration.default('10m').describe('hard cap on one call, streaming included'),
      })
      .strict()
      .prefault({}),
    max_concurrency: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('calls in flight to this upstream; a full upstream is skipped'),
    connections: z.number().int().positive().default(128).describe('keep-alive connections per origin'),
  })
  .strict();

const deployment = z
  .object({
    upstream: serverNameSchema,
    model: z.string().min(1).describe('the model name as that upstream knows it'),
    weight: z.number().positive().optional().describe("default: the upstream's weight"),
    priority: z.number().int().nonnegative().optional().describe("default: the upstream's priority"),
  })
  .strict();

const alias = z
  .object({
    strategy: strategySchema.optional().describe('default: llm.strategy'),
    deployments: z.array(deployment).min(1),
  })
  .strict();

export const llmConfigSchema = z
  .object({
    upstreams: z.record(serverNameSchema, upstream).describe('LLM API upstreams by name'),
    models: z
      .record(z.string().min(1), alias)
      .default({})
      .describe('model aliases agents may ask for, each a pool of deployments'),
    strategy: strategySchema
      .default('weighted_round_robin')
      .describe('for aliases without one and for plain upstream model names'),
    retries: z
      .object({
        attempts: z.number().int().min(1).max(10).default(3).describe('tries per call, across deployments'),
        backoff_base: duration.default('200ms'),
        backoff_max: duration.default('5s'),
        max_retry_after: duration.default('30s').describe('an upstream asking to wait longer than this is not retried'),
      })
      .strict()
      .prefault({}),
    circuit_breaker: z
      .object({
        failures: z
          .number()
          .int()
          .positive()
          .default(5)
          .describe('consecutive failures (connect error, timeout, 5xx) that open the circuit'),
        cooldown: duration.default('30s').describe('then one probe call; success closes the circuit'),
      })
      .strict()
      .prefault({}),
    prices: z
      .record(z.string(), z.object({ input: z.number().nonnegative(), output: z.number().nonnegative() }).strict())
      .default({})
      .describe('USD per 1M tokens, by upstream model name (or alias)'),
    default_max_tokens: z
      .number()
      .int()
      .positive()
      .default(4096)
      .describe('output tokens reserved when a request names no max_tokens'),
    drain_timeout: duration
      .default('60s')
      .describe('how long an upstream stream is still read (for its usage) after the agent left'),
    max_body_bytes: z
      .number()
      .int()
      .positive()
      .default(16 * 1024 * 1024),
    max_response_bytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024)
      .describe('cap on a non-streaming upstream answer, which is read whole (502 beyond)'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const [name, a] of Object.entries(cfg.models)) {
      a.deployments.forEach((d, i) => {
        if (!(d.upstream in cfg.upstreams))
          ctx.addIssue({
            code: 'custom',
            path: ['models', name, 'deployments', i, 'upstream'],
            message: `unknown llm upstream ${d.upstream}`,
          });
      });
    }
  });

export type LlmConfigInput = z.input<typeof llmConfigSchema>;
export type ParsedLlmConfig = z.output<typeof llmConfigSchema>;
export type Strategy = z.output<typeof strategySchema>;
