// `auth.kind: oauth` for one upstream: Tollgate holds each user's token for it in the vault, sends it
// on that user's own upstream session only, refreshes it before expiry and on 401, and when there is
// none (or it cannot be refreshed) answers -32042 with a link that starts the authorization.
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { ChannelAuth, UpstreamCredentials } from '../upstream/channel-auth.js';
import { discover, type AuthServerInfo } from './discovery.js';
import { exclusively } from './exclusive.js';
import { mintLink, newId, sealState, type StateClaims } from './links.js';
import { GrantRefused, pkcePair, resolveClient, revokeToken, tokenRequest, type OAuthClient } from './oauth-client.js';
import { refreshDue } from './refresh-due.js';
import type { CredentialsConfig, UpstreamAuth } from './runtime.js';
import type { Connection, Vault } from './vault.js';

export interface OAuthUpstreamDeps {
  vault: Vault;
  cfg: CredentialsConfig;
  /** Tollgate's public base URL (links, redirect URI, client metadata document). */
  baseUrl(): string;
  log: Logger;
  /** A user connected this upstream (agents waiting on its elicitation are told). */
  completed?(upstream: string, agent: string): void;
}

export class OAuthUpstream implements UpstreamCredentials {
  private info: Promise<AuthServerInfo> | undefined;
  private readonly refreshing = new Map<string, Promise<Connection>>();
  private readonly listeners: (() => void)[] = [];

  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly auth: Extract<UpstreamAuth, { kind: 'oauth' }>,
    private readonly deps: OAuthUpstreamDeps,
  ) {}

  /** Without catalog_headers the catalog is listed with the first connected user's token. */
  get catalogAsUser(): boolean {
    return Object.keys(this.auth.catalogHeaders).length === 0;
  }

  onConnected(listener: () => void): void {
    this.listeners.push(listener);
  }

  redirectUri(): string {
    return `${this.deps.baseUrl().replace(/\/$/, '')}/connections/callback`;
  }

  metadataDocumentUrl(): string {
    return `${this.deps.baseUrl().replace(/\/$/, '')}/connections/client-metadata.json`;
  }

  /** The upstream's authorization server, discovered once (again after a failure). */
  discovered(): Promise<AuthServerInfo> {
    if (!this.info) {
      this.info = discover(this.url, { allowPrivateHosts: this.auth.allowPrivateHosts });
      this.info.catch(() => (this.info = undefined));
    }
    return this.info;
  }

  /** Which client Tollgate is at the AS; one lookup (or registration) at a time in this process. */
  private client(info: AuthServerInfo): Promise<OAuthClient> {
    if (!this.resolving) {
      this.resolving = resolveClient(this.name, this.auth, info, this.deps.vault, {
        redirectUri: this.redirectUri(),
        metadataDocument: this.metadataDocumentUrl(),
      }).finally(() => (this.resolving = undefined));
    }
    return this.resolving;
  }
  private resolving: Promise<OAuthClient> | undefined;
  /** Whose token lists the catalog (no catalog_headers), see channelAuth. */
  private catalogUser: string | undefined;

  /** The -32042 answer: a fresh single-use link for this user (URL-mode elicitation, MCP 2025-11-25). */
  needAuth(agent: string, why: string): GatewayError {
    const base = this.deps.baseUrl();
    const e = Date.now() + this.deps.cfg.linkTtlMs;
    const url = mintLink(this.deps.vault.keys, base, { a: agent, u: this.name, e, p: 'connect' });
    const message = `${why}: open the link to connect your account at ${this.name}, then try again`;
    return new GatewayError('authorization_required', message, {
      elicitations: [{ mode: 'url', elicitationId: newId(), url, message }],
      url,
      upstream: this.name,
      connections: mintLink(this.deps.vault.keys, base, { a: agent, u: '', e, p: 'manage' }),
    });
  }

  /** Before a call: the user has a connection (else the link). */
  async check(agent: string): Promise<void> {
    if (!(await this.deps.vault.get(this.name, agent)))
      throw this.needAuth(agent, `${this.name} needs your authorization`);
  }

  private async current(agent: string): Promise<Connection> {
    const c = await this.deps.vault.get(this.name, agent);
    if (!c) throw this.needAuth(agent, `${this.name} needs your authorization`);
    if (refreshDue(c, this.auth.refreshBeforeMs ?? this.deps.cfg.refreshBeforeMs, Date.now()))
      return this.refresh(agent, c);
    return c;
  }

  /** One refresh at a time per user; a token another instance already refreshed is used as it is. */
  private refresh(agent: string, stale: Connection): Promise<Connection> {
    let p = this.refreshing.get(agent);
    if (!p) {
      p = this.doRefresh(agent, stale).finally(() => this.refreshing.delete(agent));
      this.refreshing.set(agent, p);
    }
    return p;
  }

  private async doRefresh(agent: string, stale: Connection): Promise<Connection> {
    // The token someone else refreshed meanwhile (another call here, another instance), else undefined.
    const refreshed = async (): Promise<Connection | undefined> => {
      const now = await this.deps.vault.get(this.name, agent);
      if (!now) throw this.needAuth(agent, `${this.name} needs your authorization`);
      return now.accessToken !== stale.accessToken ? now : undefined;
    };
    const theirs = await refreshed();
    if (theirs) return theirs;
    const info = await this.discovered();
    // One instance at a time presents the user's refresh token; the others use what it got.
    return exclusively(
      this.deps.vault.store,
      `refresh:${this.name}\u0000${agent}`,
      refreshed,
      () => this.refreshAt(info, agent, stale),
      `the token refresh of ${this.name}`,
    );
  }

  /** The refresh itself (under the lock): new tokens in the vault, or the connection is gone. */
  private async refreshAt(info: AuthServerInfo, agent: string, stale: Connection): Promise<Connection> {
    const lost = async (why: string): Promise<Connection> => {
      await this.deps.vault.delete(this.name, agent);
      this.deps.log.info({ upstream: this.name, agent }, 'upstream authorization lost; the user must authorize again');
      throw this.needAuth(agent, why);
    };
    if (!stale.refreshToken) return lost(`your authorization at ${this.name} expired`);
    if (info.issuer !== stale.issuer) return lost(`${this.name} moved to another authorization server`);
    try {
      const t = await tokenRequest(
        info.tokenEndpoint,
        await this.client(info),
        {
          grant_type: 'refresh_token',
          refresh_token: stale.refreshToken,
          resource: info.resource,
        },
        info.reach,
      );
      const next: Connection = {
        ...stale,
        accessToken: t.accessToken,
        refreshToken: t.refreshToken ?? stale.refreshToken,
        expiresAt: t.expiresAt,
        lifetimeMs: t.lifetimeMs,
        scope: t.scope ?? stale.scope,
        refreshedAt: Date.now(),
      };
      if (await this.deps.vault.replace(this.name, agent, stale, next)) return next;
      // Revoked (or connected again) meanwhile: these tokens are nobody's; the AS forgets them too.
      const client = await this.client(info);
      if (info.revocationEndpoint) {
        if (t.refreshToken)
          await revokeToken(info.revocationEndpoint, client, t.refreshToken, 'refresh_token', info.reach);
        await revokeToken(info.revocationEndpoint, client, t.accessToken, 'access_token', info.reach);
      }
      const now = await this.deps.vault.get(this.name, agent);
      if (now) return now;
      throw this.needAuth(agent, `${this.name} needs your authorization`);
    } catch (err) {
      if (err instanceof GrantRefused) return lost(`your authorization at ${this.name} could not be renewed`);
      throw err;
    }
  }

  private agentAuth(agent: string): ChannelAuth {
    return {
      headers: async () => ({ authorization: `Bearer ${(await this.current(agent)).accessToken}` }),
      rejected: async (sent) => {
        const c = await this.deps.vault.get(this.name, agent);
        if (!c) throw this.needAuth(agent, `${this.name} needs your authorization`);
        if (sent.authorization !== `Bearer ${c.accessToken}`) return; // already refreshed
        await this.refresh(agent, c);
      },
    };
  }

  channelAuth(agentId: string | undefined): ChannelAuth | undefined {
    if (agentId !== undefined) return this.agentAuth(agentId);
    const fixed = this.auth.catalogHeaders;
    if (Object.keys(fixed).length > 0)
      return {
        headers: async () => ({ ...fixed }),
        rejected: () => Promise.reject(new Error('catalog credential refused')),
      };
    // No operator credential: the catalog is listed with the first connected user's token. Found
    // once and kept while that connection lasts: listing reads every connection in the vault (a
    // Redis scan of all of them), too much for each catalog request an upstream can cause.
    const first = async (): Promise<ChannelAuth> => {
      let who = this.catalogUser;
      if (who === undefined || !(await this.deps.vault.get(this.name, who)))
        who = this.catalogUser = (await this.deps.vault.list({ upstream: this.name }))[0]?.agent;
      if (who === undefined)
        throw new GatewayError(
          'upstream_unavailable',
          `no user has connected ${this.name} yet (its catalog needs one)`,
        );
      return this.agentAuth(who);
    };
    return {
      headers: async () => (await first()).headers(),
      rejected: async (sent) => (await first()).rejected(sent),
    };
  }

  env(): undefined {
    return undefined;
  }

  /** The authorization request for a flow a browser started (state bound to that browser). */
  async authorizationUrl(agent: string, browser: string): Promise<string> {
    const info = await this.discovered();
    const client = await this.client(info);
    const { verifier, challenge } = pkcePair();
    const claims: StateClaims = {
      a: agent,
      u: this.name,
      v: verifier,
      b: browser,
      n: newId(),
      e: Date.now() + this.deps.cfg.linkTtlMs,
      i: info.issuer,
    };
    const u = new URL(info.authorizationEndpoint);
    const scopes = this.auth.scopes ?? info.scopesSupported;
    const params: Record<string, string> = {
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: this.redirectUri(),
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: sealState(this.deps.vault.keys, claims),
      resource: info.resource,
      ...(scopes.length > 0 ? { scope: scopes.join(' ') } : {}),
    };
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.href;
  }

  /** The callback's code, exchanged for the user's tokens (the state was checked by the caller). */
  async complete(state: StateClaims, code: string, iss: string | undefined): Promise<void> {
    const info = await this.discovered();
    if (info.issuer !== state.i || (iss !== undefined && iss !== info.issuer))
      throw new GatewayError('forbidden', 'the answer came from another authorization server');
    const t = await tokenRequest(
      info.tokenEndpoint,
      await this.client(info),
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: this.redirectUri(),
        code_verifier: state.v,
        resource: info.resource,
      },
      info.reach,
    );
    await this.deps.vault.put(this.name, state.a, {
      accessToken: t.accessToken,
      refreshToken: t.refreshToken,
      expiresAt: t.expiresAt,
      lifetimeMs: t.lifetimeMs,
      scope: t.scope,
      issuer: info.issuer,
      connectedAt: Date.now(),
    });
    this.deps.log.info({ upstream: this.name, agent: state.a }, 'user connected an upstream');
    for (const l of this.listeners) l();
    this.deps.completed?.(this.name, state.a);
  }

  /** Revokes at the AS (best effort) and forgets the user's tokens. */
  async revoke(agent: string): Promise<boolean> {
    const c = await this.deps.vault.get(this.name, agent);
    const had = await this.deps.vault.delete(this.name, agent);
    if (c) {
      const info = await this.discovered().catch(() => undefined);
      if (info?.revocationEndpoint && info.issuer === c.issuer) {
        const client = await this.client(info).catch(() => undefined);
        if (client) {
          const at = info.revocationEndpoint;
          if (c.refreshToken) await revokeToken(at, client, c.refreshToken, 'refresh_token', info.reach);
          await revokeToken(at, client, c.accessToken, 'access_token', info.reach);
        }
      }
    }
    return had;
  }
}
