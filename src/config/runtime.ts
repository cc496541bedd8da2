// Parsed config → the frozen runtime objects the gateway runs on (durations in ms, camelCase).
import type { ServerRequestLimits } from '../mcp/agent-session.js';
import { resolve } from 'node:path';
import { ageToMs, toPostgresConfig, type AuditPostgresConfig } from '../audit/pg/config.js';
import { hostname } from 'node:os';
import type { ParsedConfig } from './schema.js';
import { toMs, toRates, type Rate } from './runtime-units.js';
import { upstreamConfig, type UpstreamConfig } from './runtime-upstreams.js';
import { oauthRuntime, type OAuthConfig } from '../oauth/schema.js';
import { keylessUpstreams, toLlmRuntime, type LlmConfig } from '../llm/runtime.js';
import { toAuditSignRuntime, type AuditSignRuntime } from '../audit/sign-schema.js';
import { approvalsRuntime } from '../approvals/schema.js';
import type { ApprovalsConfig } from '../approvals/service.js';
import { toTelemetryRuntime, type TelemetryConfig } from '../telemetry/config.js';
import { credentialsConfig, type CredentialsConfig } from '../credentials/runtime.js';

export { toMs, toRates, type Rate } from './runtime-units.js';
export type {
  BalanceConfig,
  HttpUpstreamConfig,
  PinAction,
  ReplicaConfig,
  StdioUpstreamConfig,
  UpstreamConfig,
  UpstreamProtocol,
} from './runtime-upstreams.js';

export interface JwtConfig {
  issuer: string | readonly string[];
  audience: string | readonly string[] | undefined;
  jwksUrl: string | undefined;
  publicKeyFile: string | undefined;
  jwkFile: string | undefined;
  hmacSecret: string | undefined;
  algorithms: readonly string[] | undefined;
  clockSkewMs: number;
  agentClaim: string;
  requiredScopes: readonly string[];
  requireExp: boolean;
}

export interface PinsConfig {
  /** `file`: the pin file; `redis`: one book in Redis (limits.redis) shared by every instance. */
  store: 'file' | 'redis';
  /** Absolute path of the pin file. */
  file: string;
  autoPinNew: boolean;
  watch: boolean;
}

export interface RuntimeConfig {
  server: {
    host: string;
    port: number;
    publicUrl: string | undefined;
    allowedOrigins: readonly string[] | undefined;
    allowedHosts: readonly string[] | undefined;
    /** Peers whose X-Forwarded-For names the client (per-address bounds); empty: the TCP peer. */
    trustedProxies: readonly string[];
    maxBodyBytes: number;
    /** Slow-client bounds of the HTTP server: headers, and the whole request. */
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    sessionIdleTimeoutMs: number;
    sseKeepaliveMs: number;
    sseReplayEvents: number;
    /** Bytes one SSE stream may queue beyond its socket, and keep for replay (see stream-bounds.ts). */
    sseMaxQueuedBytes: number;
    /** Caps on what agents hold open (sessions, SSE streams), per agent and in total. */
    maxSessions: number;
    maxSessionsPerAgent: number;
    maxSseStreams: number;
    maxSseStreamsPerAgent: number;
  };
  mcp: {
    nameSeparator: string;
    prefixResourceUris: boolean;
    listPageSize: number;
    /** Resource subscriptions one agent session may hold (each republishes the session's list). */
    maxSubscriptionsPerSession: number;
    serverName: string;
    inputRequired: { ttlMs: number; maxPerAgent: number; maxParked: number };
    listen: { maxPerAgent: number; maxStreams: number; maxResourceUris: number };
    /** Upstream requests forwarded to a 2025 agent session: how many may wait, and how long. */
    serverRequests: ServerRequestLimits;
  };
  upstreams: readonly UpstreamConfig[];
  auth: {
    apiKeys: readonly { agent: string; key: string }[];
    allowAnonymous: boolean;
    jwt: JwtConfig | undefined;
    resource: string | undefined;
    authorizationServers: readonly string[];
    forwardIdentityHeader: string | undefined;
    /** Tollgate's own authorization server (auth.oauth); undefined when off. */
    oauth: OAuthConfig | undefined;
  };
  policies: { dir: string; watch: boolean } | undefined;
  /** Seal keys stay base64 here (a frozen config cannot hold Buffers); the gateway decodes them. */
  sessions: { sealKeys: readonly string[]; maxAgeMs: number; shared: boolean };
  /** Tool-definition pinning; undefined when disabled. */
  pins: PinsConfig | undefined;
  log: { level: string };
  metrics: { enabled: boolean; token: string | undefined };
  /** OpenTelemetry traces; undefined when off. */
  telemetry: TelemetryConfig | undefined;
  admin: { tokens: readonly string[]; tokenHashes: readonly string[] };
  llm: LlmConfig | undefined;
  /** Upstream credentials per user: the token vault and connection links. */
  credentials: CredentialsConfig;
  limits: {
    store: 'memory' | 'redis';
    redis: {
      url: string | undefined;
      cluster: readonly string[] | undefined;
      timeoutMs: number;
      failureMode: 'fail_open' | 'fail_closed' | 'local';
      prefix: string;
    };
    global: readonly Rate[];
    toolResultTokens: { enabled: boolean; encoding: 'o200k_base' | 'cl100k_base'; defaultEstimate: number };
    concurrencyTtlMs: number;
  };
  /** Human approval of tool calls (rules in policy files). */
  approvals: ApprovalsConfig;
  audit: {
    file: string | undefined;
    stdout: boolean;
    rotateBytes: number;
    rotateDaily: boolean;
    fsync: boolean;
    redactKeys: readonly string[];
    maxValueBytes: number;
    postgres: AuditPostgresConfig | undefined;
    retentionMs: number | undefined;
    retentionFiles: number | undefined;
    sign: AuditSignRuntime;
  };
  instanceId: string;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** The pin file: as configured, else beside the policies (committed with them), else beside the config. */
function pinFilePath(c: ParsedConfig, baseDir: string): string {
  if (c.pins.file !== undefined) return resolve(baseDir, c.pins.file);
  return resolve(c.policies ? resolve(baseDir, c.policies.dir) : baseDir, PIN_FILE_NAME);
}

export const PIN_FILE_NAME = 'tool-pins.json';

export function toRuntimeConfig(
  c: ParsedConfig,
  baseDir: string,
  /** Values `${VAR}`s put into each upstream's `args`, by upstream name. */
  expandedArgs: ReadonlyMap<string, readonly string[]> = new Map(),
): RuntimeConfig {
  return deepFreeze({
    server: {
      host: c.server.host,
      port: c.server.port,
      publicUrl: c.server.public_url,
      allowedOrigins: c.server.allowed_origins,
      allowedHosts: c.server.allowed_hosts,
      trustedProxies: c.server.trusted_proxies,
      maxBodyBytes: c.server.max_body_bytes,
      headersTimeoutMs: toMs(c.server.headers_timeout),
      requestTimeoutMs: toMs(c.server.request_timeout),
      sessionIdleTimeoutMs: toMs(c.server.session_idle_timeout),
      sseKeepaliveMs: toMs(c.server.sse_keepalive),
      sseReplayEvents: c.server.sse_replay_events,
      sseMaxQueuedBytes: c.server.sse_max_queued_bytes,
      maxSessions: c.server.max_sessions,
      maxSessionsPerAgent: c.server.max_sessions_per_agent,
      maxSseStreams: c.server.max_sse_streams,
      maxSseStreamsPerAgent: c.server.max_sse_streams_per_agent,
    },
    mcp: {
      nameSeparator: c.mcp.name_separator,
      prefixResourceUris: c.mcp.prefix_resource_uris,
      listPageSize: c.mcp.list_page_size,
      maxSubscriptionsPerSession: c.mcp.max_subscriptions_per_session,
      serverName: c.mcp.server_name,
      inputRequired: {
        ttlMs: toMs(c.mcp.input_required.ttl),
        maxPerAgent: c.mcp.input_required.max_per_agent,
        maxParked: c.mcp.input_required.max_parked,
      },
      listen: {
        maxPerAgent: c.mcp.listen.max_per_agent,
        maxStreams: c.mcp.listen.max_streams,
        maxResourceUris: c.mcp.listen.max_resource_uris,
      },
      serverRequests: {
        maxPerSession: c.mcp.server_requests.max_per_session,
        timeoutMs: toMs(c.mcp.server_requests.timeout),
      },
    },
    upstreams: Object.entries(c.upstreams).map(([name, u]) =>
      upstreamConfig(name, u, baseDir, c.pins.action, expandedArgs.get(name)),
    ),
    auth: {
      apiKeys: c.auth.api_keys,
      allowAnonymous: c.auth.allow_anonymous,
      jwt: c.auth.jwt && {
        issuer: c.auth.jwt.issuer,
        audience: c.auth.jwt.audience,
        jwksUrl: c.auth.jwt.jwks_url,
        publicKeyFile: c.auth.jwt.public_key_file && resolve(baseDir, c.auth.jwt.public_key_file),
        jwkFile: c.auth.jwt.jwk_file && resolve(baseDir, c.auth.jwt.jwk_file),
        hmacSecret: c.auth.jwt.hmac_secret,
        algorithms: c.auth.jwt.algorithms,
        clockSkewMs: toMs(c.auth.jwt.clock_skew),
        agentClaim: c.auth.jwt.agent_claim,
        requiredScopes: c.auth.jwt.required_scopes,
        requireExp: c.auth.jwt.require_exp,
      },
      resource: c.auth.resource,
      authorizationServers: c.auth.authorization_servers,
      forwardIdentityHeader: c.auth.forward_identity_header,
      oauth: oauthRuntime(c.auth.oauth, baseDir),
    },
    policies: c.policies && { dir: resolve(baseDir, c.policies.dir), watch: c.policies.watch },
    sessions: { sealKeys: c.sessions.seal_keys, maxAgeMs: toMs(c.sessions.max_age), shared: c.sessions.shared },
    pins: c.pins.enabled
      ? { store: c.pins.store, file: pinFilePath(c, baseDir), autoPinNew: c.pins.auto_pin_new, watch: c.pins.watch }
      : undefined,
    log: { level: c.log.level },
    metrics: { enabled: c.metrics.enabled, token: c.metrics.token },
    telemetry: toTelemetryRuntime(c.telemetry),
    admin: { tokens: c.admin.tokens, tokenHashes: c.admin.token_hashes },
    llm:
      c.llm && keylessUpstreams(c.llm).length < Object.keys(c.llm.upstreams).length ? toLlmRuntime(c.llm) : undefined,
    credentials: credentialsConfig(c.credentials, baseDir),
    limits: {
      store: c.limits.store,
      redis: {
        url: c.limits.redis.url,
        cluster: c.limits.redis.cluster,
        timeoutMs: toMs(c.limits.redis.timeout),
        failureMode: c.limits.redis.failure_mode,
        prefix: c.limits.redis.prefix,
      },
      global: toRates(c.limits.global.requests),
      toolResultTokens: {
        enabled: c.limits.tool_result_tokens.enabled,
        encoding: c.limits.tool_result_tokens.encoding,
        defaultEstimate: c.limits.tool_result_tokens.default_estimate,
      },
      concurrencyTtlMs: toMs(c.limits.concurrency_ttl),
    },
    approvals: approvalsRuntime(c.approvals),
    audit: {
      file: c.audit.file === null ? undefined : resolve(baseDir, c.audit.file),
      stdout: c.audit.stdout,
      rotateBytes: c.audit.rotate_bytes,
      rotateDaily: c.audit.rotate_daily,
      fsync: c.audit.fsync,
      redactKeys: c.audit.redact_keys,
      maxValueBytes: c.audit.max_value_bytes,
      postgres: toPostgresConfig(c.audit.postgres, c.server.instance_id),
      retentionMs: c.audit.retention === undefined ? undefined : ageToMs(c.audit.retention),
      retentionFiles: c.audit.retention_files,
      sign: toAuditSignRuntime(c.audit, baseDir),
    },
    instanceId: c.server.instance_id ?? `${hostname()}-${process.pid}`,
  });
}
