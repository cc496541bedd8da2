// Tollgate's authorization server, assembled: its store, signing keys, clients, grants and users, and
// the Hono routes (metadata, /authorize + login/consent, /token, /revoke, /register, JWKS).
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Context } from 'hono';
import type { OAuthConfig } from './schema.js';
import { MemoryOAuthStore, RedisOAuthStore, type OAuthStore } from './store.js';
import { SigningKeys } from './keys.js';
import { ClientRegistry } from './clients.js';
import { GrantService } from './grants.js';
import { LocalUsers } from './users.js';
import type { ResourceSpace } from './resources.js';
import { consentKey, type Subject } from './grants.js';
import { redisClient } from '../limits/redis-client.js';
import type { RuntimeConfig } from '../config/runtime.js';
import { ConfigError } from '../config/yaml.js';
import type { AdminOAuth } from '../admin/oauth.js';
import { addressBucket } from './address.js';
import { peerAddress } from '../http/client-address.js';
import type { FirstPartySignIn } from './first-party.js';
import { ADMIN_SESSION_PREFIX, adminClient, adminSignIn } from './admin-client.js';
import { CONNECTIONS_SESSION_PREFIX, connectionsClient, connectionsSignIn } from './connections-client.js';

export interface OAuthServerOptions {
  config: OAuthConfig;
  /** The gateway's base URL once known (public_url or the address listened on). */
  baseUrl: () => string;
  resources: ResourceSpace;
  log: Logger;
  store?: OAuthStore;
  /** Where a request came from (server.trusted_proxies, src/http/client-address.ts); default the TCP peer. */
  addressOf?: (c: Context) => string;
  /** The admin side is mounted (admin tokens configured): its built-in sign-in client exists (admin-client.ts). */
  adminSignIn?: boolean;
  /** The connections pages are mounted (oauth upstreams): their built-in sign-in client exists (connections-client.ts). */
  connectionsSignIn?: boolean;
}

export class OAuthServer {
  readonly config: OAuthConfig;
  readonly store: OAuthStore;
  readonly keys: SigningKeys;
  readonly clients: ClientRegistry;
  readonly grants: GrantService;
  #users: LocalUsers;
  readonly resources: ResourceSpace;
  readonly log: Logger;
  readonly #baseUrl: () => string;
  readonly #addressOf: (c: Context) => string;
  readonly #adminSignIn: boolean;
  readonly #connectionsSignIn: boolean;
  #ending: Promise<void> = Promise.resolve();

  constructor(o: OAuthServerOptions & { store: OAuthStore }) {
    this.config = o.config;
    this.store = o.store;
    this.log = o.log;
    this.resources = o.resources;
    this.#baseUrl = o.baseUrl;
    this.#addressOf = o.addressOf ?? peerAddress;
    this.#adminSignIn = o.adminSignIn === true;
    this.#connectionsSignIn = o.connectionsSignIn === true;
    this.keys = new SigningKeys(this.store, o.config.keyRotationMs);
    const m = o.config.clientIdMetadata;
    this.clients = new ClientRegistry({
      store: this.store,
      metadataDocuments: {
        enabled: m.enabled,
        allowHttp: m.allowHttp,
        allowPrivateHosts: m.allowPrivateHosts,
        ca: m.caFile === undefined ? undefined : readCaFile(m.caFile),
        timeoutMs: m.timeoutMs,
        maxBytes: m.maxBytes,
        cacheTtlMs: m.cacheTtlMs,
      },
      maxRegistered: 10_000,
      maxRegisteredPerAddress: o.config.registrationsPerAddress,
      builtIn: () => [
        ...(this.#adminSignIn ? [adminClient(this.issuer())] : []),
        ...(this.#connectionsSignIn ? [connectionsClient(this.issuer())] : []),
      ],
    });
    this.grants = new GrantService({
      store: this.store,
      keys: this.keys,
      issuer: () => this.issuer(),
      accessTokenTtlMs: o.config.accessTokenTtlMs,
      refreshTokenTtlMs: o.config.refreshTokenTtlMs,
      codeTtlMs: o.config.codeTtlMs,
      subjectNow: (s) => this.subjectNow(s),
    });
    this.#users = new LocalUsers(o.config.users);
  }

  /** What per-address bounds count a request by: its client's address, an IPv6 one as its /64. */
  clientAddress(c: Context): string {
    return addressBucket(this.#addressOf(c));
  }

  /** The local users who may log in (auth.oauth.users, as last applied). */
  get users(): LocalUsers {
    return this.#users;
  }

  /**
   * Applies a re-read auth.oauth.users (SIGHUP): a removed user can no longer log in, a changed
   * password is the only one accepted, and a removed user's grants and login sessions are ended in
   * the store (usersApplied settles once done), so listing the name again does not revive them.
   */
  setUsers(users: OAuthConfig['users']): void {
    const before = this.#users;
    this.#users = new LocalUsers(users);
    const removed = new Set(before.names().filter((name) => !this.#users.get(name)));
    if (removed.size > 0)
      this.#ending = this.#ending.then(() => this.#endLoginsOf((sub) => removed.has(sub)).then(() => {}));
  }

  /**
   * At start (Gateway.open, not `tollgate check`): ends in the store the grants, consents and login
   * sessions of local users the config does not list (removed while the gateway was stopped, or by
   * a restart alone), as a reload removing them would, before the name can be listed again: a name
   * listed again later (often for someone else) would otherwise bring them all back. With the shared
   * Redis store this instance's list is taken as the truth for the fleet: an instance started with a
   * list lacking a name another instance still lists (an older config) ends that user's logins
   * everywhere; they log in again where they are listed (SECURITY.md). A scan rather than a record of
   * the names last applied: that record would miss the logins a not yet restarted instance still
   * listing a removed user made after a peer's restart had ended the others. The memory store
   * starts empty (nothing to end).
   */
  endLoginsOfUnlisted(): Promise<void> {
    const listed = this.#users;
    this.#ending = this.#ending.then(async () => {
      const n = await this.#endLoginsOf((sub) => !listed.get(sub));
      if (n > 0) this.log.info({ ended: n }, 'oauth: ended the grants and login sessions of users no longer listed');
    });
    return this.#ending;
  }

  /**
   * Settles once the logins of users removed by setUsers (or unlisted at start) have been ended in
   * the store.
   */
  usersApplied(): Promise<void> {
    return this.#ending;
  }

  /**
   * Ends what removed local users left in the store: grants (and the consent that would hand the
   * client a new one), and login sessions. Refusing them while the name is unlisted is not enough:
   * a name listed again (often for someone else) would bring them all back. Company (OIDC) logins
   * are never touched. How many grants and sessions it ended.
   */
  async #endLoginsOf(removed: (sub: string) => boolean): Promise<number> {
    const gone = (s: Subject) => s.idp === 'local' && removed(s.sub);
    let ended = 0;
    try {
      for (const g of await this.grants.list(Number.POSITIVE_INFINITY))
        if (gone(g)) {
          await Promise.all([this.grants.revoke(g.gid), this.store.del(consentKey(g.sub, g.clientId))]);
          ended++;
        }
      // Login sessions at /authorize and first-party sessions (admin side, connections pages) alike.
      for (const prefix of ['session:', ADMIN_SESSION_PREFIX, CONNECTIONS_SESSION_PREFIX])
        for (const { key, value } of await this.store.list<Subject>(prefix, Number.POSITIVE_INFINITY))
          if (gone(value)) {
            await this.store.del(key);
            ended++;
          }
    } catch (err) {
      this.log.warn({ err }, 'oauth: could not end the logins of removed users; they are refused while unlisted');
    }
    return ended;
  }

  /**
   * A user who logged in earlier (login session, grant), as the config has them now: a local user
   * removed from it is undefined (no more silent logins, the grant ends at its next refresh), one
   * whose groups changed gets the new ones; a company (OIDC) login keeps what the IdP said then.
   */
  subjectNow(s: Subject): Subject | undefined {
    if (s.idp !== 'local') return s;
    const u = this.#users.get(s.sub);
    return u && { ...s, groups: u.groups };
  }

  /** Opens the configured store (Redis: limits.redis under `<prefix>oauth:`). */
  static openStore(config: OAuthConfig, redis: RuntimeConfig['limits']['redis'], log?: Logger): OAuthStore {
    if (config.store === 'redis')
      return new RedisOAuthStore(
        redisClient(redis, { enableOfflineQueue: true, maxRetriesPerRequest: 2 }),
        `${redis.prefix}oauth:`,
      );
    return new MemoryOAuthStore(config.store === 'file' ? config.file : undefined, Date.now, log);
  }

  /** The issuer: auth.oauth.issuer, else the gateway's base URL. */
  issuer(): string {
    return this.config.issuer ?? this.#baseUrl().replace(/\/$/, '');
  }

  /** Whether tokens/cookies travel over https only. */
  get secure(): boolean {
    return this.issuer().startsWith('https:');
  }

  /**
   * An operator's revocation: the grant and the user's remembered consent to that client. Without
   * the consent gone, the client would get a new grant at once through the user's login session,
   * with no click (the user is asked again instead).
   */
  async #revokeByOperator(gid: string): Promise<boolean> {
    const g = await this.grants.get(gid);
    if (g) await this.store.del(consentKey(g.sub, g.clientId));
    return this.grants.revoke(gid);
  }

  /** The admin side's sign-in for users (admin-client.ts); only with `adminSignIn` set. */
  adminSignIn(): FirstPartySignIn | undefined {
    return this.#adminSignIn ? adminSignIn(this) : undefined;
  }

  /** The connections pages' sign-in for users (connections-client.ts); only with `connectionsSignIn` set. */
  connectionsSignIn(): FirstPartySignIn | undefined {
    return this.#connectionsSignIn ? connectionsSignIn(this) : undefined;
  }

  /** What the admin API and page list and revoke. */
  admin(): AdminOAuth {
    return {
      grants: () => this.grants.list(),
      clients: async () => (await this.clients.registered()).map(({ secret_hash: _s, ...c }) => c),
      revokeGrant: (gid) => this.#revokeByOperator(gid),
      removeClient: async (clientId) => {
        for (const g of await this.grants.list()) if (g.clientId === clientId) await this.#revokeByOperator(g.gid);
        return this.clients.remove(clientId);
      },
    };
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** The extra CA the config names: unreadable, it is the operator's config error (one line, no stack). */
function readCaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`auth.oauth.client_id_metadata.ca_file: ${(err as Error).message}`]);
  }
}
