// Codes, grants and tokens. A grant is one user's consent to one client for one resource; it holds
// the current refresh token. Refresh tokens rotate on every use; presenting a spent one (a stolen
// copy, or the thief's after the owner used it) revokes the whole grant — every token of that
// family stops working, access tokens included (the authenticator checks the grant is alive).
// A refresh token names its grant and is MACed (`tgr_<random>.<gid>.<mac>`), so a spent one is
// recognised without a record per spent token: the store holds one refresh token per grant however
// often a client refreshes, and a made-up token naming a grant cannot revoke it.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import type { OAuthStore } from './store.js';
import type { SigningKeys } from './keys.js';
import { OAuthError } from './clients.js';

export interface Subject {
  sub: string;
  groups: readonly string[];
  /** How the user logged in: `local` or the upstream identity provider. */
  idp: string;
}

export interface CodeRecord extends Subject {
  clientId: string;
  redirectUri: string;
  /**
   * The authorization request named no redirect_uri (the client's only registered one was used):
   * the token request may then omit it too (RFC 6749 §4.1.3 asks for it only when it was sent).
   */
  redirectUriOmitted?: true;
  codeChallenge: string;
  resource: string;
  scope: string;
}

export interface Grant extends Subject {
  gid: string;
  clientId: string;
  resource: string;
  scope: string;
  createdAt: number;
  refreshedAt: number;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
}

const digest = (s: string): string => createHash('sha256').update(s).digest('base64url');

/** Where a user's remembered consent to a client is kept (scopes and resources allowed). */
export const consentKey = (sub: string, clientId: string): string => `consent:${digest(`${sub}\u0000${clientId}`)}`;

export interface GrantServiceOptions {
  store: OAuthStore;
  keys: SigningKeys;
  issuer: () => string;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  codeTtlMs: number;
  /**
   * The user as the configuration has them now (undefined: no longer allowed to log in). A refresh
   * carries it into the new tokens, so removing a user or changing their groups is not undone by a
   * grant that outlives the change.
   */
  subjectNow?: (s: Subject) => Subject | undefined;
}

/** Live grants one user may have given one client (several devices, several logins). */
export const MAX_GRANTS_PER_CLIENT = 25;

const REFRESH = /^tgr_([A-Za-z0-9_-]{43}\.([A-Za-z0-9_-]{1,64}))\.([A-Za-z0-9_-]{43})$/;

export class GrantService {
  #macKey: Promise<string> | undefined;

  constructor(private readonly o: GrantServiceOptions) {}

  /** The key refresh tokens are MACed with: one per store (the first instance makes it). */
  #mac(body: string): Promise<string> {
    this.#macKey ??= (async () => {
      await this.o.store.setIfAbsent('rt-mac-key', randomBytes(32).toString('base64url'));
      const key = await this.o.store.get<string>('rt-mac-key');
      if (!key) throw new Error('oauth store lost the refresh-token key');
      return key;
    })();
    this.#macKey.catch(() => {
      this.#macKey = undefined; // store unavailable: try again next time
    });
    return this.#macKey.then((k) => createHmac('sha256', k).update(body).digest('base64url'));
  }

  /** The grant a refresh token Tollgate issued names (spent or current), or undefined. */
  async #familyOf(token: string): Promise<string | undefined> {
    const m = REFRESH.exec(token);
    if (!m?.[1] || !m[2] || !m[3]) return undefined;
    const expected = Buffer.from(await this.#mac(m[1]));
    const given = Buffer.from(m[3]);
    return expected.length === given.length && timingSafeEqual(expected, given) ? m[2] : undefined;
  }

  async issueCode(rec: CodeRecord): Promise<string> {
    const code = `tga_${randomBytes(32).toString('base64url')}`;
    await this.o.store.set(`code:${digest(code)}`, rec, this.o.codeTtlMs);
    return code;
  }

  /**
   * Redeems a code once. A second redemption finds it spent and revokes the grant the first one
   * made (RFC 6749 §4.1.2: a replayed code may mean it was stolen).
   */
  async redeemCode(code: string): Promise<CodeRecord> {
    const h = digest(code);
    const rec = await this.o.store.take<CodeRecord>(`code:${h}`);
    if (!rec) {
      const gid = await this.o.store.get<string>(`code-used:${h}`);
      if (gid) await this.revoke(gid);
      throw new OAuthError('invalid_grant', gid ? 'authorization code already used' : 'unknown or expired code');
    }
    return rec;
  }

  /** A new grant for a redeemed code, with its first tokens. */
  async start(code: string, rec: CodeRecord): Promise<TokenResponse> {
    const now = Date.now();
    const grant: Grant = {
      gid: randomBytes(16).toString('base64url'),
      sub: rec.sub,
      groups: rec.groups,
      idp: rec.idp,
      clientId: rec.clientId,
      resource: rec.resource,
      scope: rec.scope,
      createdAt: now,
      refreshedAt: now,
    };
    await this.o.store.set(`code-used:${digest(code)}`, grant.gid, this.o.codeTtlMs * 10);
    await this.#bound(grant);
    return this.#tokens(grant);
  }

  /**
   * Keeps at most MAX_GRANTS_PER_CLIENT live grants per user and client, ending the oldest: with a
   * login session a code needs no password, so a client could otherwise pile up grants for as long
   * as refresh_token_ttl keeps each one.
   */
  async #bound(grant: Grant): Promise<void> {
    const key = `grants-of:${digest(`${grant.sub}\u0000${grant.clientId}`)}`;
    const live: string[] = [];
    for (const gid of (await this.o.store.get<string[]>(key)) ?? []) if (await this.alive(gid)) live.push(gid);
    live.push(grant.gid);
    while (live.length > MAX_GRANTS_PER_CLIENT) {
      const oldest = live.shift();
      if (oldest !== undefined) await this.revoke(oldest);
    }
    await this.o.store.set(key, live, this.o.refreshTokenTtlMs);
  }

  async #tokens(grant: Grant): Promise<TokenResponse> {
    await this.o.store.set(`grant:${grant.gid}`, grant, this.o.refreshTokenTtlMs);
    const body = `${randomBytes(32).toString('base64url')}.${grant.gid}`;
    const refresh = `tgr_${body}.${await this.#mac(body)}`;
    await this.o.store.set(`rt:${digest(refresh)}`, grant.gid, this.o.refreshTokenTtlMs);
    return {
      access_token: await this.accessToken(grant),
      token_type: 'Bearer',
      expires_in: Math.floor(this.o.accessTokenTtlMs / 1000),
      refresh_token: refresh,
      scope: grant.scope,
    };
  }

  async accessToken(grant: Grant): Promise<string> {
    const key = await this.o.keys.current();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      client_id: grant.clientId,
      scope: grant.scope,
      groups: [...grant.groups],
      gid: grant.gid,
      idp: grant.idp,
    })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.o.issuer())
      .setAudience(grant.resource)
      .setSubject(grant.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + Math.floor(this.o.accessTokenTtlMs / 1000))
      .setJti(randomBytes(12).toString('base64url'))
      .sign(key.privateKey);
  }

  /** Rotates a refresh token; a spent one revokes its grant. */
  async refresh(token: string, clientId: string, resource: string | undefined): Promise<TokenResponse> {
    const h = digest(token);
    // Asking its own grant for another resource is refused before the token is taken: a client
    // trying its login on another server (the MCP SDK refreshes for the URL it connects to) keeps
    // its refresh token, whose next use would otherwise find it spent and revoke the grant.
    if (resource !== undefined) {
      const current = await this.o.store.get<string>(`rt:${h}`);
      const grant = current === undefined ? undefined : await this.o.store.get<Grant>(`grant:${current}`);
      if (grant?.clientId === clientId && grant.resource !== resource)
        throw new OAuthError('invalid_target', 'resource differs from the one granted');
    }
    const gid = await this.o.store.take<string>(`rt:${h}`);
    if (!gid) {
      // Not current: one of ours that was spent (or `rt-used`, how tokens issued before the MAC were
      // remembered) ends its grant.
      const spent = (await this.#familyOf(token)) ?? (await this.o.store.get<string>(`rt-used:${h}`));
      if (spent && (await this.revoke(spent)))
        throw new OAuthError('invalid_grant', 'refresh token already used: the grant is revoked');
      throw new OAuthError('invalid_grant', 'unknown or expired refresh token');
    }
    const grant = await this.o.store.get<Grant>(`grant:${gid}`);
    if (!grant) throw new OAuthError('invalid_grant', 'the grant was revoked');
    if (grant.clientId !== clientId) {
      await this.revoke(gid);
      throw new OAuthError('invalid_grant', 'refresh token was issued to another client');
    }
    if (resource !== undefined && resource !== grant.resource)
      throw new OAuthError('invalid_target', 'resource differs from the one granted');
    const now = this.o.subjectNow ? this.o.subjectNow(grant) : grant;
    if (!now) {
      await this.revoke(gid);
      throw new OAuthError('invalid_grant', 'the user may no longer log in: the grant is revoked');
    }
    return this.#tokens({ ...grant, groups: now.groups, refreshedAt: Date.now() });
  }

  /** The grant a refresh token belongs to, if it is current. */
  async grantOfRefresh(token: string): Promise<string | undefined> {
    return this.o.store.get<string>(`rt:${digest(token)}`);
  }

  async get(gid: string): Promise<Grant | undefined> {
    return this.o.store.get<Grant>(`grant:${gid}`);
  }

  async alive(gid: string): Promise<boolean> {
    return (await this.o.store.get<Grant>(`grant:${gid}`)) !== undefined;
  }

  async revoke(gid: string): Promise<boolean> {
    const had = await this.alive(gid);
    await this.o.store.del(`grant:${gid}`);
    return had;
  }

  async list(max?: number): Promise<Grant[]> {
    return (await this.o.store.list<Grant>('grant:', max)).map((e) => e.value);
  }
}
