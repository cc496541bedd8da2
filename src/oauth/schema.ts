// `auth.oauth`: Tollgate as the OAuth 2.1 authorization server for its own endpoints (issue 16).
// Parsed here, turned into a frozen runtime object by `oauthRuntime`; off unless `enabled: true`.
import { resolve } from 'node:path';
import { z } from 'zod';
import { duration } from '../config/primitives.js';
import { toMs } from '../config/runtime-units.js';

const userSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/)
      .describe('login name; the token subject'),
    password_hash: z
      .string()
      .regex(/^scrypt\$/, 'expected scrypt$… (tollgate user add)')
      .optional()
      .describe('from `tollgate user add`'),
    password: z.string().min(1).optional().describe('plaintext, usually ${ENV}; hashed at start. Prefer password_hash'),
    groups: z.array(z.string().min(1)).default([]).describe('policy groups this user is in'),
  })
  .strict()
  .refine((u) => (u.password_hash === undefined) !== (u.password === undefined), {
    message: 'give exactly one of password_hash, password',
  });

export const oauthConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    issuer: z
      .url()
      .optional()
      .describe("the authorization server's issuer URL; default server.public_url, else the address listened on"),
    access_token_ttl: duration.default('10m').describe('lifetime of the JWT access tokens Tollgate signs'),
    refresh_token_ttl: duration.default('720h').describe('a grant unused this long ends'),
    code_ttl: duration.default('60s'),
    login_ttl: duration.default('10m').describe('time to finish login and consent'),
    session_ttl: duration.default('12h').describe('browser login session at Tollgate'),
    key_rotation: duration
      .default('720h')
      .describe('a new signing key after this long; older keys stay in the JWKS while tokens they signed live'),
    store: z
      .enum(['memory', 'file', 'redis'])
      .default('memory')
      .describe('where clients, codes, grants and consents live: memory, file (one instance) or redis (limits.redis)'),
    file: z.string().default('tollgate-oauth.json').describe('state file for store: file, relative to this config'),
    scopes: z.array(z.string().min(1)).default(['mcp']).describe('scopes clients may ask for'),
    dynamic_registration: z.boolean().default(true).describe('RFC 7591 POST /register'),
    registrations_per_address: z
      .number()
      .int()
      .positive()
      .default(100)
      .describe('POST /register per client address per hour (an IPv6 /64 is one address; a proxy in front is one)'),
    client_id_metadata: z
      .object({
        enabled: z.boolean().default(true).describe('accept https URLs as client_id (Client ID Metadata Documents)'),
        allow_http: z.boolean().default(false).describe('also fetch http:// client ids (tests, trusted networks)'),
        allow_private_hosts: z
          .array(z.string().min(1))
          .default([])
          .describe('host names whose metadata may be fetched although they resolve to private/loopback addresses'),
        ca_file: z.string().optional().describe('extra CA (PEM) trusted for these fetches only, relative to this file'),
        timeout: duration.default('5s'),
        max_bytes: z.number().int().positive().default(16384),
        cache_ttl: duration.default('10m'),
      })
      .strict()
      .prefault({}),
    users: z.array(userSchema).default([]).describe('local users who may log in'),
    login_attempts: z
      .object({
        max: z.number().int().positive().default(5).describe('failed logins per user name per window'),
        max_per_address: z
          .number()
          .int()
          .positive()
          .default(20)
          .describe('failed logins per client address per window'),
        window: duration.default('5m'),
      })
      .strict()
      .prefault({}),
    pending_logins: z
      .object({
        max: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .describe('authorization requests waiting for login or consent, overall (then temporarily_unavailable)'),
        max_per_address: z
          .number()
          .int()
          .positive()
          .default(100)
          .describe('the same, per client address (an IPv6 /64 is one address)'),
      })
      .strict()
      .prefault({}),
    oidc: z
      .object({
        issuer: z
          .url()
          .describe("the company identity provider's issuer (its /.well-known/openid-configuration is read)"),
        client_id: z.string().min(1),
        client_secret: z.string().min(1).describe('usually ${ENV}'),
        name: z.string().default('your company account').describe('shown on the login button'),
        scopes: z.array(z.string()).default(['openid', 'profile', 'email']),
        subject_claim: z.string().default('sub').describe('the id_token claim that names the user'),
        groups_claim: z.string().default('groups').describe('the id_token claim with the policy groups'),
      })
      .strict()
      .optional()
      .describe('log users in through an OpenID Connect provider (authorization code flow); local users still work'),
    identity: z
      .object({
        agent_prefix: z.string().default('user:').describe('an unmapped user becomes agent <prefix><sub>'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .describe('Tollgate as an OAuth 2.1 authorization server for /mcp and /v1 (login page, consent, tokens)');

export type OAuthConfigInput = z.output<typeof oauthConfigSchema>;

export interface OAuthUser {
  name: string;
  passwordHash: string | undefined;
  password: string | undefined;
  groups: readonly string[];
}

export interface OAuthConfig {
  issuer: string | undefined;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  codeTtlMs: number;
  loginTtlMs: number;
  sessionTtlMs: number;
  keyRotationMs: number;
  store: 'memory' | 'file' | 'redis';
  file: string;
  scopes: readonly string[];
  dynamicRegistration: boolean;
  registrationsPerAddress: number;
  clientIdMetadata: {
    enabled: boolean;
    allowHttp: boolean;
    allowPrivateHosts: readonly string[];
    caFile: string | undefined;
    timeoutMs: number;
    maxBytes: number;
    cacheTtlMs: number;
  };
  users: readonly OAuthUser[];
  loginAttempts: { max: number; maxPerAddress: number; windowMs: number };
  pendingLogins: { max: number; maxPerAddress: number };
  agentPrefix: string;
  oidc:
    | {
        issuer: string;
        clientId: string;
        clientSecret: string;
        name: string;
        scopes: readonly string[];
        subjectClaim: string;
        groupsClaim: string;
      }
    | undefined;
}

export function oauthRuntime(c: OAuthConfigInput | undefined, baseDir: string): OAuthConfig | undefined {
  if (!c?.enabled) return undefined;
  const m = c.client_id_metadata;
  return {
    issuer: c.issuer?.replace(/\/$/, ''),
    accessTokenTtlMs: toMs(c.access_token_ttl),
    refreshTokenTtlMs: toMs(c.refresh_token_ttl),
    codeTtlMs: toMs(c.code_ttl),
    loginTtlMs: toMs(c.login_ttl),
    sessionTtlMs: toMs(c.session_ttl),
    keyRotationMs: toMs(c.key_rotation),
    store: c.store,
    file: resolve(baseDir, c.file),
    scopes: c.scopes,
    dynamicRegistration: c.dynamic_registration,
    registrationsPerAddress: c.registrations_per_address,
    clientIdMetadata: {
      enabled: m.enabled,
      allowHttp: m.allow_http,
      allowPrivateHosts: m.allow_private_hosts.map((h) => h.toLowerCase()),
      caFile: m.ca_file && resolve(baseDir, m.ca_file),
      timeoutMs: toMs(m.timeout),
      maxBytes: m.max_bytes,
      cacheTtlMs: toMs(m.cache_ttl),
    },
    users: c.users.map((u) => ({
      name: u.name,
      passwordHash: u.password_hash,
      password: u.password,
      groups: u.groups,
    })),
    loginAttempts: {
      max: c.login_attempts.max,
      maxPerAddress: c.login_attempts.max_per_address,
      windowMs: toMs(c.login_attempts.window),
    },
    pendingLogins: { max: c.pending_logins.max, maxPerAddress: c.pending_logins.max_per_address },
    agentPrefix: c.identity.agent_prefix,
    oidc: c.oidc && {
      issuer: c.oidc.issuer.replace(/\/$/, ''),
      clientId: c.oidc.client_id,
      clientSecret: c.oidc.client_secret,
      name: c.oidc.name,
      scopes: c.oidc.scopes,
      subjectClaim: c.oidc.subject_claim,
      groupsClaim: c.oidc.groups_claim,
    },
  };
}
