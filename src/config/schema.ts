// The YAML config's shape. Parsed once at start (and on reload), never read raw elsewhere.
// snake_case keys because operators write YAML; runtime objects use camelCase.
import { z } from 'zod';
import { ratesSchema } from '../limits/schema.js';
import { llmConfigSchema } from '../llm/schema.js';
import { auditSignKeys } from '../audit/sign-schema.js';
import { telemetrySchema } from '../telemetry/schema.js';

import { duration, serverNameSchema } from './primitives.js';
import { pinAction, upstreamSchema } from './schema-upstreams.js';
import { mcpSectionSchema, serverSectionSchema } from './schema-server.js';
import { ageSchema, auditPostgresSchema, checkAuditSpool } from '../audit/pg/config.js';
import { approvalsConfigSchema } from '../approvals/schema.js';
import { checkUpstreamAuth, credentialsSectionSchema } from '../credentials/schema.js';
import { oauthConfigSchema } from '../oauth/schema.js';

export { serverNameSchema };

export { upstreamSchema } from './schema-upstreams.js';

const apiKeyEntry = z
  .object({
    agent: z.string().min(1).describe('agent id this key authenticates'),
    key: z.string().min(8).describe('the bearer token, usually ${ENV_VAR}'),
  })
  .strict();

const jwtSchema = z
  .object({
    issuer: z.union([z.string(), z.array(z.string())]),
    audience: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe('default: auth.resource'),
    jwks_url: z.url().optional(),
    public_key_file: z.string().optional().describe('SPKI PEM file'),
    jwk_file: z.string().optional().describe('a JWK (JSON) file'),
    hmac_secret: z.string().min(32).optional().describe('HS256 secret, usually ${JWT_SECRET}'),
    algorithms: z.array(z.string()).optional(),
    clock_skew: duration.default('30s'),
    agent_claim: z.string().default('sub'),
    required_scopes: z.array(z.string()).default([]),
    require_exp: z.boolean().default(true).describe('refuse tokens without an exp claim'),
  })
  .strict()
  .refine(
    (j) => [j.jwks_url, j.public_key_file, j.jwk_file, j.hmac_secret].filter((x) => x !== undefined).length === 1,
    {
      message: 'give exactly one of jwks_url, public_key_file, jwk_file, hmac_secret',
    },
  );

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    server: serverSectionSchema,
    mcp: mcpSectionSchema,
    upstreams: z
      .record(serverNameSchema, upstreamSchema)
      .default({})
      .describe('MCP servers behind /mcp; may be empty when llm: is set (a gateway for LLM traffic only)'),
    auth: z
      .object({
        api_keys: z.array(apiKeyEntry).default([]).describe('plaintext keys from env; policy files hold hashed keys'),
        allow_anonymous: z.boolean().default(false).describe('accept requests without a token as agent "anonymous"'),
        jwt: jwtSchema.optional(),
        resource: z
          .url()
          .optional()
          .describe("this gateway's protected resource URL (RFC 8707/9728); default <public_url>/mcp"),
        authorization_servers: z.array(z.url()).default([]).describe('listed in the protected resource metadata'),
        oauth: oauthConfigSchema.optional(),
        forward_identity_header: z
          .string()
          .regex(/^[A-Za-z0-9-]+$/)
          .optional()
          .describe("send the agent id to HTTP upstreams in this header (never the agent's token)"),
      })
      .strict()
      .prefault({}),
    sessions: z
      .object({
        seal_keys: z
          .array(
            z.string().refine((k) => Buffer.from(k, 'base64').length === 32, {
              message: 'a seal key is 32 random bytes in base64 (openssl rand -base64 32)',
            }),
          )
          .default([])
          .describe(
            'AES-256-GCM keys that seal Mcp-Session-Id, newest first (the first seals, all open). Gateways behind one load balancer share them. Empty: a random key per process',
          ),
        max_age: duration
          .default('24h')
          .describe('a session id older than this is refused (the agent initializes again)'),
        shared: z
          .boolean()
          .default(false)
          .describe(
            'several gateway instances serve one session: server-to-client messages, answers and DELETE travel between them through Redis (limits.redis)',
          ),
      })
      .strict()
      .prefault({})
      .describe('agent sessions across gateway instances'),
    policies: z
      .object({
        dir: z.string().describe('folder of policy files (*.yaml), relative to this file'),
        watch: z.boolean().default(true).describe('reload when a file changes'),
      })
      .strict()
      .optional()
      .describe('per-agent allow-lists; without it every authenticated agent may use everything'),
    pins: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe('pin each upstream tool definition (SHA-256) and hold changed tools until approved'),
        store: z
          .enum(['file', 'redis'])
          .default('file')
          .describe(
            'where pins live: file (pins.file; one instance) or redis (limits.redis; shared by every instance, an approval on one applies on all)',
          ),
        file: z
          .string()
          .optional()
          .describe(
            'the pin file, relative to this file; default <policies.dir>/tool-pins.json, else tool-pins.json beside this file (env TOLLGATE_PINS_FILE overrides)',
          ),
        action: pinAction.default('hide'),
        auto_pin_new: z
          .boolean()
          .default(true)
          .describe('pin tools never seen before on first sight; false: new tools wait for approval like changed ones'),
        watch: z
          .boolean()
          .default(true)
          .describe('reload the pin file when it changes (approvals made with tollgate pins approve)'),
      })
      .strict()
      .prefault({})
      .describe('tool-definition pinning: the rug-pull and tool-poisoning defence'),
    limits: z
      .object({
        store: z.enum(['memory', 'redis']).default('memory'),
        redis: z
          .object({
            url: z.string().optional().describe('redis://host:port/db (standalone)'),
            cluster: z.array(z.string()).optional().describe('seed nodes host:port (Redis Cluster)'),
            timeout: duration
              .default('500ms')
              .describe(
                'health window: Redis counts as down (failure_mode applies) when it answers nothing at all for this long while commands wait, or at once when the connection fails; a slow reply alone never does',
              ),
            failure_mode: z.enum(['fail_open', 'fail_closed', 'local']).default('local'),
            prefix: z
              .string()
              .regex(/^[^{}]*$/)
              .default('tollgate:'),
          })
          .strict()
          .prefault({}),
        global: z.object({ requests: ratesSchema }).strict().prefault({}).describe('all agents together'),
        tool_result_tokens: z
          .object({
            enabled: z.boolean().default(false).describe("charge tool results' tokens to the agent's token budget"),
            encoding: z.enum(['o200k_base', 'cl100k_base']).default('o200k_base'),
            default_estimate: z
              .number()
              .int()
              .positive()
              .default(1000)
              .describe(
                "tokens a call reserves for its result when the agent has no recent result of that tool (then: their p95); capped at the agent's budget",
              ),
          })
          .strict()
          .prefault({}),
        concurrency_ttl: duration
          .default('10m')
          .describe('an in-flight slot held longer than this (a crashed gateway) is freed'),
      })
      .strict()
      .prefault({}),
    approvals: approvalsConfigSchema,
    audit: z
      .object({
        file: z
          .string()
          .nullable()
          .default('tollgate-audit.jsonl')
          .describe('JSONL file, relative to this config; null disables (env TOLLGATE_AUDIT_FILE overrides)'),
        stdout: z.boolean().default(false).describe('write records to stdout instead of a file'),
        rotate_bytes: z
          .number()
          .int()
          .positive()
          .default(100 * 1024 * 1024),
        rotate_daily: z.boolean().default(true),
        fsync: z.boolean().default(false).describe('fsync each batch (survives power loss, not only process death)'),
        redact_keys: z.array(z.string()).default([]).describe('added to the built-in secret key names'),
        max_value_bytes: z.number().int().positive().default(2048).describe('longer argument values are truncated'),
        postgres: auditPostgresSchema.optional(),
        retention: ageSchema.optional().describe('delete records older than this (PostgreSQL rows, rotated files)'),
        retention_files: z.number().int().positive().optional().describe('keep at most this many rotated files'),
        ...auditSignKeys,
      })
      .strict()
      .superRefine(checkAuditSpool)
      .prefault({}),
    llm: llmConfigSchema.optional().describe('LLM upstreams behind /v1 (OpenAI- and Anthropic-compatible)'),
    credentials: credentialsSectionSchema,
    admin: z
      .object({
        tokens: z
          .array(z.string().min(8))
          .default([])
          .describe('admin API and /admin page credentials (usually ${ENV}); never agent keys'),
        token_hashes: z.array(z.string().regex(/^sha256:[0-9a-f]{64}$/)).default([]),
      })
      .strict()
      .prefault({})
      .describe('without tokens the admin API and page are off'),
    metrics: z
      .object({
        enabled: z.boolean().default(true),
        token: z.string().min(8).optional().describe('when set, /metrics requires Authorization: Bearer <token>'),
      })
      .strict()
      .prefault({}),
    telemetry: telemetrySchema,
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkUpstreamAuth(c, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    // A gateway with nothing behind it is a mistake; one for LLM traffic only is not.
    if (Object.keys(c.upstreams).length === 0 && !c.llm)
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams'],
        message: 'at least one upstream (or an llm: block) is required',
      });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type UpstreamSpec = z.output<typeof upstreamSchema>;
export type DurationInput = z.output<typeof duration>;
