// `auth.kind: token_exchange` (RFC 8693): the token the agent authenticated to Tollgate with (the
// OAuth front door's, or the agent's JWT) is exchanged at a configured token endpoint for one with
// the upstream's audience; the result is kept in memory until it expires, per agent and subject token.
import { createHash } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type { AgentIdentity } from '../auth/identity.js';
import type { ChannelAuth, UpstreamCredentials } from '../upstream/channel-auth.js';
import { GrantRefused, clientFrom, tokenRequest, type OAuthClient } from './oauth-client.js';
import { refreshDue } from './refresh-due.js';
import type { UpstreamAuth } from './runtime.js';
import { subjectTokenOf } from './subject-token.js';

const MAX_AGENTS = 10_000;
const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';

interface Exchanged {
  subject: string;
  token: string;
  expiresAt: number | undefined;
  lifetimeMs: number | undefined;
}

/** A Map that forgets its oldest entries past `max`. */
function bounded<V>(m: Map<string, V>, key: string, value: V): void {
  m.delete(key);
  m.set(key, value);
  if (m.size > MAX_AGENTS) m.delete(m.keys().next().value as string);
}

export class TokenExchange implements UpstreamCredentials {
  private readonly subjects = new Map<string, string>();
  private readonly exchanged = new Map<string, Exchanged>();
  private readonly pending = new Map<string, Promise<Exchanged>>();
  private readonly client: OAuthClient | undefined;

  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly auth: Extract<UpstreamAuth, { kind: 'token_exchange' }>,
    private readonly refreshBeforeMs: number,
  ) {
    this.client = auth.client && clientFrom(auth.client, []);
  }

  /** Before a call: the agent authenticated with a token that can be exchanged. */
  accept(identity: AgentIdentity): void {
    const t = subjectTokenOf(identity);
    if (!t)
      throw new GatewayError(
        'forbidden',
        `upstream ${this.name} needs the caller's own token (a JWT or OAuth login), which API keys are not`,
      );
    const hash = createHash('sha256').update(t).digest('base64url');
    if (this.subjects.get(identity.id) !== hash) bounded(this.subjects, identity.id, hash);
    this.tokens.set(hash, t);
    if (this.tokens.size > MAX_AGENTS) this.tokens.delete(this.tokens.keys().next().value as string);
  }

  /** Subject tokens by hash (the latest per agent is named in `subjects`). */
  private readonly tokens = new Map<string, string>();

  private async exchange(agent: string): Promise<Exchanged> {
    const hash = this.subjects.get(agent);
    const subject = hash && this.tokens.get(hash);
    if (!hash || !subject) throw new GatewayError('forbidden', `no token of ${agent} to exchange for ${this.name}`);
    const have = this.exchanged.get(agent);
    if (have && have.subject === hash && !refreshDue(have, this.refreshBeforeMs, Date.now())) return have;
    const key = `${agent}\u0000${hash}`;
    let p = this.pending.get(key);
    if (!p) {
      p = this.request(subject, hash).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    const got = await p;
    bounded(this.exchanged, agent, got);
    return got;
  }

  private async request(subject: string, hash: string): Promise<Exchanged> {
    const body: Record<string, string | undefined> = {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject,
      subject_token_type: this.auth.subjectTokenType,
      requested_token_type: TOKEN_TYPE_ACCESS,
      resource: this.auth.resource ?? this.url,
      audience: this.auth.audience,
      scope: this.auth.scopes.length > 0 ? this.auth.scopes.join(' ') : undefined,
    };
    const client = this.client ?? { clientId: '', clientSecret: undefined, authMethod: 'none' as const };
    if (!this.client) delete body.client_id;
    try {
      const t = await tokenRequest(this.auth.tokenEndpoint, client, body);
      return { subject: hash, token: t.accessToken, expiresAt: t.expiresAt, lifetimeMs: t.lifetimeMs };
    } catch (err) {
      if (err instanceof GrantRefused)
        throw new GatewayError('forbidden', `token exchange for ${this.name} was refused (${err.message})`);
      throw err;
    }
  }

  channelAuth(agentId: string | undefined): ChannelAuth | undefined {
    if (agentId === undefined) {
      const fixed = this.auth.catalogHeaders;
      return Object.keys(fixed).length > 0
        ? {
            headers: async () => ({ ...fixed }),
            rejected: () => Promise.reject(new Error('catalog credential refused')),
          }
        : undefined;
    }
    return {
      headers: async () => ({ authorization: `Bearer ${(await this.exchange(agentId)).token}` }),
      rejected: async (sent) => {
        const have = this.exchanged.get(agentId);
        // Refused: exchange again once (the upstream may have revoked it); the same refusal then ends it.
        if (have && sent.authorization === `Bearer ${have.token}`) this.exchanged.delete(agentId);
        else if (!have) throw new GatewayError('forbidden', `upstream ${this.name} refused the exchanged token`);
      },
    };
  }

  env(): undefined {
    return undefined;
  }
}
