// How limits are written in YAML (policy files, upstream entries, the gateway's global limits).
import { z } from 'zod';

const per = z
  .union([z.number().int().positive(), z.string().regex(/^\d*(ms|s|m|h|d)$/)])
  .describe(
    'the period (limit per period on average, bursts up to limit): ms as a number, or "1s", "1m", "1h", "1d" (a bare unit means 1)',
  );

export const rateSchema = z.object({ limit: z.number().int().positive(), per }).strict();
export const ratesSchema = z.array(rateSchema).default([]);

/** Limits of one agent (in its policy file) or of a group. */
export const agentLimitsSchema = z
  .object({
    requests: ratesSchema.describe('routed MCP requests (tools/call, prompts/get, resources/read, …)'),
    tools: z
      .array(
        z
          .object({
            tool: z.string().min(1).describe('glob over namespaced tool names; one bucket for all matching tools'),
            requests: ratesSchema,
          })
          .strict(),
      )
      .default([]),
    tokens: ratesSchema.describe('token budget: LLM tokens and, when counted, tool-result tokens'),
    concurrency: z.number().int().positive().optional().describe('tool calls in flight at once'),
  })
  .strict();

export type RateInput = z.output<typeof rateSchema>;
export type AgentLimitsInput = z.output<typeof agentLimitsSchema>;

export function perToMs(p: RateInput['per']): number {
  if (typeof p === 'number') return p;
  const m = /^(\d*)(ms|s|m|h|d)$/.exec(p);
  const n = m?.[1] ? Number(m[1]) : 1;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m?.[2] ?? 'ms') as 'ms'];
  return n * unit;
}
