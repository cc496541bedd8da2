// Approval rules (in policy files) and the gateway's approvals section (in tollgate.yaml).
import { z } from 'zod';
import { duration } from '../config/primitives.js';
import { toMs } from '../config/runtime-units.js';
import { perToMs, rateSchema } from '../limits/schema.js';
import type { ApprovalsConfig } from './service.js';

/**
 * The longest wait a Node timer holds (24 days; 2^31-1 ms is 24.8): beyond, setTimeout fires at once,
 * so a rule with `timeout: 720h` would time every call out immediately and `keepalive: 600h` would
 * send a progress notification every millisecond.
 */
const MAX_WAIT_MS = 24 * 24 * 3_600_000;
const timer = (d: typeof duration) =>
  d.refine((v) => toMs(v) <= MAX_WAIT_MS, { message: 'at most 24 days (576h): longer does not fit a timer' });

/** `group:<name>` or `user:<id>`: who besides admin tokens may decide (OAuth users, see approver.ts). */
const APPROVER = /^(group|user):[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;

export const approvalRuleSchema = z
  .object({
    tool: z.string().min(1).describe('glob over namespaced tool names'),
    when: z
      .string()
      .min(1)
      .optional()
      .describe('CEL over `args`, `agent` and `user`; the rule applies when it is true (absent: always)'),
    ask: z
      .enum(['user', 'operators'])
      .describe("user: the agent's own user, through MCP elicitation; operators: held for a person on the admin side"),
    timeout: timer(duration)
      .default('5m')
      .describe('no decision by then: the call is refused (-32043, timed_out); at most 576h'),
    approvers: z
      .array(z.string().regex(APPROVER, 'an approver is group:<name> or user:<id>'))
      .max(32)
      .default([])
      .describe('ask: operators — who may decide besides admin tokens (OAuth users in these groups / with these ids)'),
    message: z.string().min(1).max(500).optional().describe('shown to whoever decides'),
    fallback: z
      .enum(['deny', 'operators'])
      .default('deny')
      .describe('ask: user — what happens when the agent cannot be asked (no elicitation capability)'),
  })
  .strict();

export type ApprovalRuleInput = z.output<typeof approvalRuleSchema>;

export const approvalsConfigSchema = z
  .object({
    store: z
      .enum(['memory', 'redis'])
      .default('memory')
      .describe(
        'where pending approvals live: memory (one instance) or redis (limits.redis; every instance lists them, a decision reaches the instance holding the call)',
      ),
    keepalive: timer(duration)
      .default('15s')
      .describe('how often a held call sends the agent a progress notification (when the agent sent a progress token)'),
    max_pending: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("held calls at once (this instance: for operators, or asking a 2025 agent's user); more are refused"),
    max_pending_per_agent: z.number().int().positive().default(20).describe('held calls at once per agent'),
    requests_per_agent: rateSchema
      .default({ limit: 60, per: '10m' })
      .describe(
        "new approval requests per agent (operators asked, or the agent's user), all instances together with store: redis; bursts up to limit, then limit per period; beyond, -32029",
      ),
    webhook: z
      .object({
        url: z.url().describe('POSTed a JSON notice for each approval requested'),
        format: z.enum(['json', 'slack']).default('json').describe('slack: a body Slack incoming webhooks accept'),
        timeout: timer(duration).default('5s'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .prefault({})
  .describe('human approval of sensitive tool calls (rules live in policy files, under approvals:)');

export type ApprovalsConfigInput = z.output<typeof approvalsConfigSchema>;

/** The runtime form (durations in ms). */
export function approvalsRuntime(c: ApprovalsConfigInput): ApprovalsConfig {
  return {
    store: c.store,
    keepaliveMs: Math.max(1000, toMs(c.keepalive)),
    maxPending: c.max_pending,
    maxPendingPerAgent: c.max_pending_per_agent,
    requestRate: { limit: c.requests_per_agent.limit, periodMs: perToMs(c.requests_per_agent.per) },
    webhook: c.webhook && { url: c.webhook.url, format: c.webhook.format, timeoutMs: toMs(c.webhook.timeout) },
  };
}
