// The schema of one upstream (an MCP server behind /mcp: stdio, Streamable HTTP or SSE); separate so schema.ts keeps to the top-level sections.
import { z } from 'zod';
import { ratesSchema } from '../limits/schema.js';
import { duration } from './primitives.js';
import { balanceSchema, replicaSchema } from './balance-schema.js';
import { upstreamAuthSchema } from '../credentials/schema.js';

export const pinAction = z
  .enum(['hide', 'block', 'warn'])
  .describe(
    'when a pinned tool changes: hide (unlisted, calls refused), block (listed, calls refused), warn (allowed, logged)',
  );

const headers = z.record(z.string(), z.string()).describe('static HTTP headers sent to this upstream');

// YAML reads an unquoted 2025 as a number: both spellings mean the same era.
const protocol = z
  .union([z.enum(['auto', '2025', '2026']), z.literal(2025), z.literal(2026)])
  .default('auto')
  .describe(
    'MCP era the upstream speaks: auto probes with server/discover (2026-07-28) and falls back to initialize (2025)',
  );

const upstreamCommon = {
  timeouts: z
    .object({
      connect: duration
        .default('30s')
        .describe('time to establish the upstream MCP session (a stdio server started by npx may download first)'),
      request: duration.default('60s').describe('time for one request; progress notifications extend it'),
      max_total: duration.default('10m').describe('hard cap on a request, progress or not'),
    })
    .strict()
    .default({ connect: '30s', request: '60s', max_total: '10m' }),
  isolation: z
    .enum(['shared', 'per_agent', 'per_session'])
    .default('shared')
    .describe(
      'shared: one upstream session (per replica) for all agents; per_agent: one per agent; per_session: one per agent session',
    ),
  max_sessions: z
    .number()
    .int()
    .positive()
    .default(64)
    .describe('cap on upstream sessions, i.e. processes for stdio (per_agent, per_session)'),
  idle_timeout: duration
    .default('10m')
    .describe('a per_agent/per_session upstream session unused this long is closed (its process ends)'),
  balance: balanceSchema,
  shared_roots: z
    .boolean()
    .default(false)
    .describe(
      'declare roots on the shared upstream session; roots/list goes to the agent whose call asked (only for servers that do not cache roots)',
    ),
  limits: z
    .object({ requests: ratesSchema })
    .strict()
    .optional()
    .describe('requests to this upstream, all agents together'),
  max_response_bytes: z
    .number()
    .int()
    .positive()
    .default(32 * 1024 * 1024)
    .describe(
      'largest single message accepted from this upstream (a JSON body, an SSE event, a stdio line); beyond: -32052',
    ),
  max_catalog_entries: z
    .number()
    .int()
    .positive()
    .default(5000)
    .describe(
      "entries kept per list (tools, prompts, resources, templates) of this upstream's catalog; the rest is dropped with a warning",
    ),
  max_catalog_bytes: z
    .number()
    .int()
    .positive()
    .default(16 * 1024 * 1024)
    .describe(
      "bytes (serialized JSON) fetched per list of this upstream's catalog, all pages together; no further page is asked for and the rest is dropped with a warning",
    ),
  enabled: z.boolean().default(true),
  pin_action: pinAction.optional().describe("overrides pins.action for this upstream's tools"),
  auth: upstreamAuthSchema,
};

const stdioUpstream = z
  .object({
    transport: z.literal('stdio'),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    protocol,
    ...upstreamCommon,
  })
  .strict();

const httpUpstream = z
  .object({
    transport: z.literal('streamable_http'),
    url: z.url().optional().describe('the server; or list replicas'),
    replicas: z
      .array(replicaSchema)
      .min(1)
      .optional()
      .describe('several URLs serving the same MCP server, balanced per balance.strategy'),
    headers: headers.default({}),
    connections: z
      .number()
      .int()
      .positive()
      .default(64)
      .describe('keep-alive connections per replica for POSTs (the GET stream and DELETE have a pool of their own)'),
    protocol,
    ...upstreamCommon,
  })
  .strict()
  .refine((u) => (u.url === undefined) !== (u.replicas === undefined), {
    message: 'give exactly one of url and replicas',
  });

const sseUpstream = z
  .object({
    transport: z.literal('sse'),
    url: z.url(),
    headers: headers.default({}),
    ...upstreamCommon,
  })
  .strict();

export const upstreamSchema = z.discriminatedUnion('transport', [stdioUpstream, httpUpstream, sseUpstream]);
