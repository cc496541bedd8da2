// The schemas of the `server:` (listening, HTTP limits) and `mcp:` (naming, paging, 2026 rounds) config sections; separate so schema.ts stays short.
import { z } from 'zod';
import { duration } from './primitives.js';
import { toMs } from './runtime-units.js';
import { parseCidr } from '../http/cidr.js';

/** `server:` where and how the gateway listens, and its caps on agent sessions and streams. */
export const serverSectionSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    instance_id: z.string().optional().describe('names this gateway in audit records; default host-pid'),
    port: z.number().int().min(0).max(65535).default(8080),
    public_url: z.url().optional().describe('the URL agents use to reach the gateway'),
    allowed_origins: z
      .array(z.string())
      .optional()
      .describe('Origin values accepted; default: the loopback origins on the listening port'),
    allowed_hosts: z
      .array(z.string())
      .optional()
      .describe('Host header values accepted; default: loopback names on the listening port'),
    trusted_proxies: z
      .array(
        z.string().superRefine((entry, ctx) => {
          const r = parseCidr(entry);
          if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
        }),
      )
      .default([])
      .describe(
        'reverse proxies / load balancers (IPs or CIDR ranges) whose X-Forwarded-For names the client for per-address bounds; default none: the TCP peer',
      ),
    max_body_bytes: z
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024),
    headers_timeout: duration
      .default('10s')
      .describe('a client must send its request headers within this (slow-loris bound); beyond: 408 and closed'),
    request_timeout: duration
      .default('30s')
      .describe('a client must send its whole request (headers and body) within this; beyond: 408 and closed'),
    session_idle_timeout: duration.default('30m'),
    sse_keepalive: duration.default('15s'),
    sse_replay_events: z
      .number()
      .int()
      .nonnegative()
      .default(256)
      .describe('events kept per stream for Last-Event-ID resumption'),
    sse_max_queued_bytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(8 * 1024 * 1024)
      .describe(
        'bytes one SSE stream to an agent may queue beyond what its socket took (and keep for replay); beyond: log/progress notifications are dropped, anything else closes the stream',
      ),
    max_sessions: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('agent sessions (Streamable HTTP and legacy SSE) held at once, all agents; beyond: 503'),
    max_sessions_per_agent: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe('agent sessions held at once by one agent; beyond: 429'),
    max_sse_streams: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('SSE streams open to agents (GET, POST, legacy, subscriptions/listen), all agents; beyond: 503'),
    max_sse_streams_per_agent: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe('SSE streams open to one agent; beyond: 429'),
  })
  .strict()
  // Node refuses a header bound above the request bound, and 0 would switch the bound off.
  .refine((s) => toMs(s.headers_timeout) >= 1000 && toMs(s.headers_timeout) <= toMs(s.request_timeout), {
    path: ['headers_timeout'],
    message: 'headers_timeout must be at least 1s and at most request_timeout',
  })
  .prefault({});

/** `mcp:` how the gateway presents the servers behind it to agents. */
export const mcpSectionSchema = z
  .object({
    name_separator: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,4}$/)
      .default('__'),
    prefix_resource_uris: z
      .boolean()
      .default(true)
      .describe('rewrite resource URIs as <server>+<uri> on /mcp so equal URIs of two servers stay apart'),
    list_page_size: z.number().int().positive().default(1000),
    max_subscriptions_per_session: z
      .number()
      .int()
      .positive()
      .default(256)
      .describe(
        'resource URIs one agent session may be subscribed to (resources/subscribe); beyond: -32602 until it unsubscribes one',
      ),
    server_name: z.string().default('tollgate'),
    input_required: z
      .object({
        ttl: duration
          .default('5m')
          .describe('how long an upstream call waits for a 2026 agent to answer an input_required round'),
        max_per_agent: z.number().int().positive().default(16).describe("upstream calls waiting for one agent's input"),
        max_parked: z.number().int().positive().default(1024).describe('upstream calls waiting for input, all agents'),
      })
      .strict()
      .prefault({})
      .describe("2026 agents: a 2025 upstream's sampling/elicitation/roots requests become input_required rounds"),
    server_requests: z
      .object({
        max_per_session: z
          .number()
          .int()
          .positive()
          .default(64)
          .describe(
            "upstream requests (sampling, elicitation, roots) waiting for one agent session's answer; beyond: refused",
          ),
        timeout: duration
          .default('10m')
          .describe('how long such a request waits for the agent; then the upstream gets a timeout error'),
      })
      .strict()
      .prefault({})
      .describe('2025 agents: requests upstreams send them through the gateway'),
    listen: z
      .object({
        max_per_agent: z.number().int().positive().default(8).describe('open subscriptions/listen streams per agent'),
        max_streams: z
          .number()
          .int()
          .positive()
          .default(1024)
          .describe('open subscriptions/listen streams, all agents'),
        max_resource_uris: z
          .number()
          .int()
          .positive()
          .default(64)
          .describe('resourceSubscriptions honoured per stream'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});
