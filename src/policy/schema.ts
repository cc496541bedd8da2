// One policy file describes one agent or one group (policies/*.yaml).
import { z } from 'zod';
import { agentLimitsSchema } from '../limits/schema.js';
import { approvalRuleSchema } from '../approvals/schema.js';
import { AGENT_ID } from './agent-id.js';

const patterns = z.array(z.string().min(1)).default([]);
const accessList = z
  .object({
    allow: patterns.describe('glob patterns over namespaced names (`github__*`) or URIs; no match means deny'),
    deny: patterns.describe('deny wins over allow'),
  })
  .strict()
  .prefault({});

const constraint = z
  .object({
    tool: z.string().min(1).describe('glob over namespaced tool names'),
    when: z
      .string()
      .min(1)
      .describe(
        'CEL expression over `args` (the call arguments) and `agent`; must be true. Compare paths through `normalizePath(args.path)`',
      ),
    message: z.string().optional().describe('shown to the agent when the constraint fails'),
  })
  .strict();

const common = {
  description: z.string().optional(),
  tools: accessList,
  prompts: accessList,
  resources: accessList,
  models: accessList.describe('LLM model names or aliases (the /v1 API)'),
  constraints: z.array(constraint).default([]),
  approvals: z
    .array(approvalRuleSchema)
    .default([])
    .describe('calls that need a person to say yes first (first match applies)'),
  limits: agentLimitsSchema
    .optional()
    .describe("an agent's own limits replace its groups'; else the first group with limits applies"),
};

export const agentPolicySchema = z
  .object({
    agent: z.string().regex(AGENT_ID),
    groups: z.array(z.string()).default([]),
    identities: z
      .object({
        api_key_hashes: z
          .array(z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex digits> (tollgate key new)'))
          .default([]),
        jwt_subjects: z.array(z.string().min(1)).default([]).describe('JWT agent-claim values that are this agent'),
        jwt_claims: z
          .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
          .optional()
          .describe('a JWT whose claims all equal these is this agent'),
        oauth_subjects: z
          .array(z.string().min(1))
          .default([])
          .describe('users who log in through Tollgate (auth.oauth) and act as this agent'),
        oauth_clients: z
          .array(z.string().min(1))
          .default([])
          .describe('when set, only these OAuth client ids may act as this agent'),
      })
      .strict()
      .prefault({}),
    ...common,
  })
  .strict();

export const groupPolicySchema = z
  .object({ group: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/), ...common })
  .strict();

export const policyFileSchema = z.union([agentPolicySchema, groupPolicySchema]);

export type AgentPolicyFile = z.output<typeof agentPolicySchema>;
export type GroupPolicyFile = z.output<typeof groupPolicySchema>;
export type PolicyFile = z.output<typeof policyFileSchema>;
