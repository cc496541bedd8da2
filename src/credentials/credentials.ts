// Upstream credentials per user, assembled from config: the vault, and one credential source per
// upstream with `auth:` (per_agent secrets, oauth, token_exchange). Keyed by the authenticated agent
// identity (an API-key agent, a JWT subject, an OAuth front-door user `user:<sub>`): calls never
// cross users because each user's own upstream session (isolation per_agent/per_session) carries
// only that user's credential.
import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime.js';
import { GatewayError } from '../errors.js';
import { redisClient } from '../limits/redis-client.js';
import type { McpStep } from '../relay/scope.js';
import type { AgentSession } from '../mcp/agent-session.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import type { AgentIdentity } from '../auth/identity.js';
import type { UpstreamCredentials } from '../upstream/channel-auth.js';
import { OAuthUpstream } from './oauth-upstream.js';
import { RevocationChannel, type Revocation } from './revocations.js';
import { StaticSecrets } from './static-secrets.js';
import { TokenExchange } from './token-exchange.js';
import { Vault, VaultKeys, type ConnectionInfo } from './vault.js';
import { FileVaultStore, RedisVaultStore } from './vault-store.js';

type Source = StaticSecrets | OAuthUpstream | TokenExchange;

export interface CredentialsDeps {
  log: Logger;
  /** Tollgate's public base URL (public_url, else the address it listens on). */
  baseUrl(): string;
  /** The groups the policy files give an agent. */
  policyGroups(agentId: string): readonly string[];
}

const MAX_REMEMBERED = 10_000;
/** After a failed look-up of missed revocations, the next try. */
const RECHECK_RETRY_MS = 1000;

export class Credentials {
  readonly vault: Vault | undefined;
  private readonly sources = new Map<string, Source>();
  /** Groups from each agent's latest verified token (a JWT's `groups` claim). */
  private readonly claimGroups = new Map<string, readonly string[]>();
  /** Told when a user revokes a connection, here or on another instance (their upstream sessions end). */
  revoked: (upstream: string, agent: string) => void = () => undefined;
  /** The agents holding sessions on this instance (looked up again after missed revocations). */
  agentsHere: () => Iterable<string> = () => [];
  /** Revocations to and from the other instances sharing the Redis vault. */
  private readonly revocations: RevocationChannel | undefined;

  constructor(
    config: RuntimeConfig,
    private readonly deps: CredentialsDeps,
  ) {
    const c = config.credentials;
    const r = config.limits.redis;
    const needsVault = c.vault.keys.length > 0;
    const redis =
      needsVault && c.vault.store === 'redis'
        ? redisClient(r, { enableOfflineQueue: true, maxRetriesPerRequest: 2 })
        : undefined;
    // Failed commands report themselves (a call answers -32050); connection errors are only logged here.
    redis?.on('error', (err: Error) => deps.log.debug({ err: err.message }, 'token vault: Redis connection error'));
    this.vault = needsVault
      ? new Vault(
          new VaultKeys(c.vault.keys),
          redis ? new RedisVaultStore(redis, r.prefix) : new FileVaultStore(c.vault.file),
        )
      : undefined;
    this.revocations =
      redis &&
      new RevocationChannel({
        pub: redis,
        sub: redisClient(r, { enableOfflineQueue: true }),
        prefix: r.prefix,
        log: deps.log,
        revoked: (x) => this.peerRevoked(x),
        resubscribed: () => void this.recheck(),
      });
    for (const u of config.upstreams) {
      const a = u.auth;
      if (!a) continue;
      const url = u.transport === 'stdio' ? '' : u.url;
      if (a.kind === 'per_agent') this.sources.set(u.name, new StaticSecrets(u.name, a, (id) => this.groupsOf(id)));
      else if (a.kind === 'token_exchange')
        this.sources.set(u.name, new TokenExchange(u.name, url, a, c.refreshBeforeMs));
      else if (this.vault)
        this.sources.set(
          u.name,
          new OAuthUpstream(u.name, url, a, {
            vault: this.vault,
            cfg: c,
            baseUrl: () => deps.baseUrl(),
            log: deps.log,
            completed: (upstream, agent) => this.completed(upstream, agent),
          }),
        );
    }
  }

  /** Re-encrypts records under older vault keys (key rotation), once at start. */
  async start(): Promise<void> {
    if (!this.vault) return;
    const r = await this.vault.rotate();
    if (r.rotated + r.unreadable > 0) this.deps.log.info(r, 'token vault: records re-encrypted with the current key');
  }

  get enabled(): boolean {
    return this.sources.size > 0;
  }

  forUpstream(name: string): UpstreamCredentials | undefined {
    return this.sources.get(name);
  }

  oauth(name: string): OAuthUpstream | undefined {
    const s = this.sources.get(name);
    return s instanceof OAuthUpstream ? s : undefined;
  }

  oauthUpstreams(): string[] {
    return [...this.sources.values()].filter((s) => s instanceof OAuthUpstream).map((s) => s.name);
  }

  private groupsOf(agentId: string): readonly string[] {
    return [...this.deps.policyGroups(agentId), ...(this.claimGroups.get(agentId) ?? [])];
  }

  private remember(identity: AgentIdentity): void {
    const g = identity.claims.groups;
    // A token without the claim has no groups (IdPs often omit an empty one): the previous token's
    // groups must not outlive a membership the IdP took away.
    const groups = Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string').slice(0, 64) : [];
    this.claimGroups.delete(identity.id);
    this.claimGroups.set(identity.id, groups);
    if (this.claimGroups.size > MAX_REMEMBERED) this.claimGroups.delete(this.claimGroups.keys().next().value as string);
  }

  /** Whether this agent can call this upstream now; throws the answer (-32042 with its link) when not. */
  async check(server: string, identity: AgentIdentity): Promise<void> {
    const s = this.sources.get(server);
    if (!s) return;
    this.remember(identity);
    if (s instanceof OAuthUpstream) await s.check(identity.id);
    else if (s instanceof TokenExchange) s.accept(identity);
    else s.require(identity.id);
  }

  /** Connections (never tokens): all of them (admin), or one user's (their page). */
  async connections(agent?: string): Promise<ConnectionInfo[]> {
    return this.vault ? this.vault.list(agent === undefined ? {} : { agent }) : [];
  }

  async revoke(upstream: string, agent: string): Promise<boolean> {
    const s = this.oauth(upstream);
    if (!s) return false;
    const had = await s.revoke(agent);
    this.revoked(upstream, agent);
    this.revocations?.publish({ upstream, agent });
    return had;
  }

  /** Settles once revocations served by other instances are heard here (at once without a Redis vault). */
  get listening(): Promise<void> {
    return this.revocations?.subscribed ?? Promise.resolve();
  }

  /** Another instance served a revocation: the same sessions end here (an upstream not ours: ignored). */
  private peerRevoked(r: Revocation): void {
    if (this.oauth(r.upstream)) this.revoked(r.upstream, r.agent);
  }

  /**
   * Back on the channel after a disconnection, revocations sent meanwhile were missed: each agent
   * with sessions here whose connection is gone from the vault has them ended now. One pass at a
   * time; at most one vault read per agent here and oauth upstream.
   */
  private async recheck(): Promise<void> {
    if (this.rechecking || this.closed || !this.vault) return;
    this.rechecking = true;
    try {
      const agents = new Set(this.agentsHere());
      for (const upstream of this.oauthUpstreams())
        for (const agent of agents) if (!(await this.vault.get(upstream, agent))) this.revoked(upstream, agent);
    } catch (err) {
      // The vault's own connection may not be back yet: again a little later, until it answers.
      this.deps.log.warn({ err: (err as Error).message }, 'credential revocations: cannot look connections up again');
      clearTimeout(this.recheckLater);
      this.recheckLater = setTimeout(() => void this.recheck(), RECHECK_RETRY_MS).unref();
    } finally {
      this.rechecking = false;
    }
  }
  private rechecking = false;
  private closed = false;
  private recheckLater: NodeJS.Timeout | undefined;

  /** Agent sessions told -32042 whose client knows URL elicitation: told again when the user connected. */
  private readonly waiting = new Map<string, { session: AgentSession; elicitationId: string }[]>();

  awaitCompletion(upstream: string, session: AgentSession, elicitationId: string): void {
    const key = `${upstream}\u0000${session.agentId}`;
    const list = (this.waiting.get(key) ?? []).filter((w) => !w.session.closed).slice(-7);
    list.push({ session, elicitationId });
    this.waiting.delete(key);
    this.waiting.set(key, list);
    if (this.waiting.size > MAX_REMEMBERED) this.waiting.delete(this.waiting.keys().next().value as string);
  }

  /** MCP 2025-11-25 `notifications/elicitation/complete` to the sessions that waited (this instance's). */
  private completed(upstream: string, agent: string): void {
    const key = `${upstream}\u0000${agent}`;
    const list = this.waiting.get(key) ?? [];
    this.waiting.delete(key);
    for (const w of list)
      w.session.send({
        jsonrpc: '2.0',
        method: 'notifications/elicitation/complete',
        params: { elicitationId: w.elicitationId },
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.recheckLater);
    await this.revocations?.close();
    await this.vault?.close();
  }
}

/** The elicitation id of a -32042 answer, if it is one. */
function elicitationOf(res: JsonRpcResponse): string | undefined {
  if (!('error' in res) || res.error.code !== -32042) return undefined;
  const data = res.error.data as { elicitations?: { elicitationId?: unknown }[] } | undefined;
  const id = data?.elicitations?.[0]?.elicitationId;
  return typeof id === 'string' ? id : undefined;
}

/** Whether the agent's client declared URL-mode elicitation (2025-11-25). */
function knowsUrlElicitation(caps: Record<string, unknown>): boolean {
  const e = caps.elicitation;
  return typeof e === 'object' && e !== null && 'url' in e;
}

/**
 * MCP step: a call to an upstream with per-user credentials goes on only when the caller has one
 * there; otherwise it is answered at once (-32042 with the connection link for oauth, -32041 for a
 * missing secret), before the catalog is consulted, so that the very first user of an upstream
 * whose catalog nobody could list yet still gets the link.
 */
export function credentialsStep(credentials: Credentials): McpStep {
  return async (call, next) => {
    const t = call.target;
    const server = t?.server;
    if (t === undefined || server === undefined || !credentials.forUpstream(server)) return next();
    // A call the agent's policy refuses is refused by the policy steps (after this one): never offer a
    // link that connects an account to an upstream the agent may not use.
    if (!call.scope.access.decide(t.kind, t.canonical, t.args).allowed) return next();
    let res: JsonRpcResponse;
    try {
      await credentials.check(server, call.scope.identity);
      res = await next();
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      res = err.toJsonRpc(call.request.id);
    }
    // Missing here, or lost on a failed refresh further down: the session hears when the user is done.
    const id = elicitationOf(res);
    const session = call.scope.session;
    if (id && session && knowsUrlElicitation(call.scope.capabilities)) credentials.awaitCompletion(server, session, id);
    return res;
  };
}
