// Upstream replicas and how Tollgate balances and health-checks them (issue 7).
import { z } from 'zod';
import { duration } from './primitives.js';

export const replicaSchema = z
  .object({
    url: z.url(),
    weight: z.number().int().min(1).max(1000).default(1).describe('share of new sessions under the weighted strategy'),
  })
  .strict();

const count = z.number().int().positive();

export const balanceSchema = z
  .object({
    strategy: z
      .enum(['least_sessions', 'round_robin', 'weighted', 'consistent_hash'])
      .default('least_sessions')
      .describe('how a new agent session picks a replica; consistent_hash keys on the agent id'),
    health_check: z
      .object({
        enabled: z.boolean().default(true),
        interval: duration.default('10s'),
        timeout: duration.default('2s'),
        unhealthy_threshold: count.default(2).describe('failed checks in a row that take a replica out'),
        healthy_threshold: count.default(1).describe('passed checks in a row that bring it back'),
        path: z
          .string()
          .startsWith('/')
          .optional()
          .describe(
            "GET this path on the replica (2xx = healthy); default: an MCP ping on the gateway's session with it",
          ),
      })
      .strict()
      .prefault({}),
    outlier_detection: z
      .object({
        consecutive_failures: count.default(5).describe('failed or timed-out calls in a row that eject a replica'),
        ejection: duration.default('30s').describe('first ejection; doubles on each repeat, up to 10x'),
        max_ejection_percent: z
          .number()
          .int()
          .min(0)
          .max(100)
          .default(50)
          .describe('never eject more than this share of the replicas'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({})
  .describe('replica balancing, health checks and outlier ejection');
