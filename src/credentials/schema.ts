// Config for upstream credentials per user: `upstreams.<name>.auth` (how Tollgate authenticates to
// that upstream on each user's behalf) and the top-level `credentials:` section (the token vault).
import { z } from 'zod';
import { duration } from '../config/primitives.js';

const headerMap = z.record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string()).default({});

const secretSet = z
  .object({
    headers: headerMap.describe('HTTP headers sent to the upstream for this agent/group (usually ${ENV})'),
    env: z.record(z.string(), z.string()).default({}).describe('environment of its stdio process'),
    header_files: z
      .record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string())
      .default({})
      .describe('headers whose value is read from a file (a mounted secret), relative to the config'),
  })
  .strict();

const clientSchema = z
  .object({
    id: z.string().min(1).describe('pre-registered client id'),
    secret: z.string().min(1).optional().describe('client secret (usually ${ENV}); none: a public client'),
  })
  .strict();

const perAgentAuth = z
  .object({
    kind: z.literal('per_agent'),
    agents: z.record(z.string(), secretSet).default({}).describe('secrets by agent id'),
    groups: z
      .record(z.string(), secretSet)
      .default({})
      .describe("secrets by group (policy groups, or a JWT's groups claim); an agent's own entry wins"),
  })
  .strict();

const oauthAuth = z
  .object({
    kind: z.literal('oauth'),
    registration: z
      .enum(['auto', 'pre_registered', 'dynamic', 'metadata_document'])
      .default('auto')
      .describe(
        'how Tollgate is a client of the upstream AS: auto = pre_registered when client is set, else metadata_document when the AS supports it, else dynamic (RFC 7591)',
      ),
    client: clientSchema.optional(),
    scopes: z
      .array(z.string())
      .optional()
      .describe("scopes to ask for; default the upstream's scopes_supported (protected resource metadata)"),
    catalog_headers: headerMap.describe(
      'an operator credential for the catalog (tools/list); empty: the first connected user lists',
    ),
    refresh_before: duration.optional().describe('overrides credentials.refresh_before for this upstream'),
    allow_private_hosts: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "host names of the upstream's authorization server that may be private/loopback addresses (so may the upstream's own host when its URL is a private IP literal or localhost)",
      ),
  })
  .strict();

const tokenExchangeAuth = z
  .object({
    kind: z.literal('token_exchange'),
    token_endpoint: z.url().describe('RFC 8693 token endpoint'),
    client: clientSchema.optional(),
    audience: z.string().optional(),
    resource: z.url().optional().describe("default: the upstream's URL"),
    scopes: z.array(z.string()).default([]),
    subject_token_type: z.string().default('urn:ietf:params:oauth:token-type:access_token'),
    catalog_headers: headerMap.describe('an operator credential for the catalog (tools/list)'),
  })
  .strict();

export const upstreamAuthSchema = z
  .discriminatedUnion('kind', [perAgentAuth, oauthAuth, tokenExchangeAuth])
  .optional()
  .describe('credentials per user (per_agent secrets, oauth, token_exchange); needs isolation per_agent/per_session');

export const credentialsSectionSchema = z
  .object({
    vault: z
      .object({
        store: z
          .enum(['file', 'redis'])
          .default('file')
          .describe('file (one instance; mode 0600) or redis (limits.redis; shared by every instance)'),
        file: z.string().default('tollgate-vault.json').describe('the vault file, relative to this config'),
        keys: z
          .array(
            z.string().regex(/^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=$/, {
              message: 'a vault key is ID:BASE64 (32 random bytes: openssl rand -base64 32)',
            }),
          )
          .default([])
          .describe(
            'AES-256-GCM keys, newest first (usually ${ENV}); the first encrypts, all decrypt; records under older keys are re-encrypted at start',
          ),
      })
      .strict()
      .prefault({}),
    refresh_before: duration
      .default('60s')
      .describe('refresh an access token this long before it expires (at most half its issued lifetime ahead)'),
    link_ttl: duration.default('10m').describe('how long a connection link (and its flow) stays valid'),
  })
  .strict()
  .prefault({})
  .describe('upstream credentials per user: the token vault and connection links');

export type UpstreamAuthSpec = z.output<typeof upstreamAuthSchema>;
export type CredentialsSpec = z.output<typeof credentialsSectionSchema>;

/** Config-wide checks: per-user credentials need per-user upstream sessions and a vault key. */
export function checkUpstreamAuth(
  c: {
    upstreams: Record<string, { transport: string; isolation: string; auth?: UpstreamAuthSpec }>;
    credentials: CredentialsSpec;
  },
  issue: (path: (string | number)[], message: string) => void,
): void {
  for (const [name, u] of Object.entries(c.upstreams)) {
    const a = u.auth;
    if (!a) continue;
    if (u.isolation === 'shared')
      issue(
        ['upstreams', name, 'isolation'],
        `auth.kind ${a.kind} needs isolation per_agent or per_session (calls must never cross users)`,
      );
    if (a.kind !== 'per_agent' && u.transport !== 'streamable_http')
      issue(['upstreams', name, 'auth'], `auth.kind ${a.kind} needs transport streamable_http`);
    if (a.kind === 'per_agent' && u.transport === 'sse')
      issue(['upstreams', name, 'auth'], 'auth.kind per_agent needs transport stdio or streamable_http');
    if (a.kind === 'oauth' && c.credentials.vault.keys.length === 0)
      issue(['credentials', 'vault', 'keys'], `upstream ${name} uses oauth: give at least one vault key`);
    if (a.kind === 'oauth' && a.registration === 'pre_registered' && !a.client)
      issue(['upstreams', name, 'auth', 'client'], 'registration pre_registered needs client.id');
  }
}
