// OAuth clients: registered through RFC 7591 (kept in the store), or named by the https URL of their
// Client ID Metadata Document (fetched, validated and cached). Both end up as one `OAuthClient`.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { OAuthStore } from './store.js';
import { redirectUriProblem } from './redirect.js';
import { FetchRefused, safeFetchJson, type SafeFetchOptions } from './safe-fetch.js';

export interface OAuthClient {
  client_id: string;
  client_name?: string | undefined;
  client_uri?: string | undefined;
  logo_uri?: string | undefined;
  redirect_uris: string[];
  token_endpoint_auth_method: 'none' | 'client_secret_basic' | 'client_secret_post';
  /** sha256 hex of the secret, for confidential registered clients. */
  secret_hash?: string | undefined;
  client_id_issued_at?: number | undefined;
  /**
   * `registered` (RFC 7591), `metadata` (a Client ID Metadata Document) or `builtin` (the
   * gateway's own sign-ins, src/oauth/first-party.ts: their codes are redeemed inside the gateway only).
   */
  kind: 'registered' | 'metadata' | 'builtin';
}

/** An OAuth error in RFC 6749/7591 terms. */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

const httpsUrl = z.url().refine((u) => u.startsWith('https://'), 'must be an https URL');

/** Client metadata (RFC 7591 §2) as Tollgate accepts it; unknown fields are ignored. */
export const clientMetadataSchema = z.object({
  redirect_uris: z.array(z.string().max(2000)).min(1).max(20),
  client_name: z.string().max(200).optional(),
  client_uri: httpsUrl.optional(),
  logo_uri: httpsUrl.optional(),
  token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post']).optional(),
  grant_types: z.array(z.string()).optional(),
  response_types: z.array(z.string()).optional(),
  scope: z.string().max(1000).optional(),
});

function checkMetadata(raw: unknown, error: string): z.output<typeof clientMetadataSchema> {
  const parsed = clientMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new OAuthError(error, `client metadata: ${i?.path.join('.') || '(root)'}: ${i?.message ?? 'invalid'}`);
  }
  const m = parsed.data;
  for (const uri of m.redirect_uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new OAuthError('invalid_redirect_uri', problem);
  }
  // Grant and response types Tollgate does not offer are dropped, not refused (RFC 7591 §3.2.1: the
  // server may replace requested values; the answer lists what was registered). VS Code 1.101 asks
  // for the device_code grant too whatever the metadata says, and was refused outright before. A
  // client that cannot use the code flow at all is still refused.
  if (m.grant_types !== undefined && !m.grant_types.includes('authorization_code'))
    throw new OAuthError(error, 'client metadata: the authorization_code grant is the one supported');
  if (m.response_types !== undefined && !m.response_types.includes('code'))
    throw new OAuthError(error, 'client metadata: only the code response type is supported');
  return m;
}

export const secretHash = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export function secretMatches(client: OAuthClient, secret: string | undefined): boolean {
  if (client.token_endpoint_auth_method === 'none') return true;
  if (secret === undefined || client.secret_hash === undefined) return false;
  const a = Buffer.from(secretHash(secret), 'hex');
  const b = Buffer.from(client.secret_hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface ClientRegistryOptions {
  store: OAuthStore;
  metadataDocuments:
    | (SafeFetchOptions & {
        enabled: boolean;
        cacheTtlMs: number;
        /** Documents cached per cache_ttl window (beyond, fetched on each use). Default 1000. */
        maxCached?: number;
        /** Document fetches in flight at once (beyond, invalid_client at once). Default 32. */
        maxFetches?: number;
      })
    | undefined;
  maxRegistered: number;
  /** Registrations per client address per hour (auth.oauth.registrations_per_address). Default 100. */
  maxRegisteredPerAddress?: number;
  /** Clients of the gateway itself (its pages' sign-ins), found before the store is asked. */
  builtIn?: () => readonly OAuthClient[];
}

/** Looks clients up and registers new ones. */
export class ClientRegistry {
  /** Metadata document fetches in flight: anyone can name a URL, so each is a socket held for them. */
  #fetching = 0;

  constructor(private readonly o: ClientRegistryOptions) {}

  /** True when `clientId` names a metadata document (an https URL with a path). */
  static isMetadataUrl(clientId: string): boolean {
    return /^https?:\/\//.test(clientId);
  }

  /** Whether `clientId` is one of the gateway's own (first-party.ts): no consent, no /token. */
  isBuiltIn(clientId: string): boolean {
    return this.o.builtIn?.().some((c) => c.client_id === clientId) === true;
  }

  /**
   * The client `clientId` names. Throws OAuthError `invalid_client` when it is unknown or its
   * metadata document cannot be used (the spec's error; the reason is in the description).
   */
  async find(clientId: string): Promise<OAuthClient> {
    if (clientId.length === 0 || clientId.length > 2000) throw new OAuthError('invalid_client', 'unknown client');
    if (ClientRegistry.isMetadataUrl(clientId)) return this.#fromDocument(clientId);
    const own = this.o.builtIn?.().find((c) => c.client_id === clientId);
    if (own) return own;
    const c = await this.o.store.get<OAuthClient>(`client:${clientId}`);
    if (!c) throw new OAuthError('invalid_client', 'unknown client', 401);
    return c;
  }

  async #fromDocument(url: string): Promise<OAuthClient> {
    const o = this.o.metadataDocuments;
    if (!o?.enabled) throw new OAuthError('invalid_client', 'client id metadata documents are not accepted here');
    const u = new URL(url);
    if (u.pathname === '/' || u.hash || u.username || u.password)
      throw new OAuthError('invalid_client', 'a client id URL has a path and no fragment or user info');
    const key = `cimd:${secretHash(url)}`;
    const cached = await this.o.store.get<OAuthClient>(key);
    if (cached) return cached;
    if (this.#fetching >= (o.maxFetches ?? 32))
      throw new OAuthError('invalid_client', 'client metadata document: too many fetches in progress; try again');
    let doc: unknown;
    this.#fetching++;
    try {
      doc = await safeFetchJson(url, o);
    } catch (err) {
      if (err instanceof FetchRefused)
        throw new OAuthError('invalid_client', `client metadata document: ${err.message}`);
      throw err;
    } finally {
      this.#fetching--;
    }
    const id = (doc as { client_id?: unknown } | null)?.client_id;
    if (id !== url) throw new OAuthError('invalid_client', 'client metadata document: client_id is not its own URL');
    const m = checkMetadata(doc, 'invalid_client');
    const method = m.token_endpoint_auth_method ?? 'none';
    if (method !== 'none')
      throw new OAuthError('invalid_client', 'client metadata document: token_endpoint_auth_method must be none');
    const client: OAuthClient = {
      client_id: url,
      client_name: m.client_name,
      client_uri: m.client_uri,
      logo_uri: m.logo_uri,
      redirect_uris: m.redirect_uris,
      token_endpoint_auth_method: 'none',
      kind: 'metadata',
    };
    // Every URL is a client to whoever serves it: the cache is bounded per window (a document beyond
    // the bound still works, fetched again at each use), so distinct URLs cannot fill the store.
    if ((await this.o.store.incr('cimd-count', o.cacheTtlMs)) <= (o.maxCached ?? 1000))
      await this.o.store.set(key, client, o.cacheTtlMs);
    return client;
  }

  /**
   * RFC 7591: registers a client; the answer (with a secret for confidential clients). `address`:
   * who asks (registration is open to anyone), bounded per hour so one address cannot take every
   * place of `maxRegistered`.
   */
  async register(raw: unknown, address?: string): Promise<Record<string, unknown>> {
    const m = checkMetadata(raw, 'invalid_client_metadata');
    if (address !== undefined) {
      const mine = await this.o.store.incr(`client-reg:ip:${address}`, 3600_000);
      if (mine > (this.o.maxRegisteredPerAddress ?? 100))
        throw new OAuthError(
          'invalid_client_metadata',
          'too many registrations from this address; try again later',
          429,
        );
    }
    const count = await this.o.store.incr('client-count', 365 * 24 * 3600_000);
    if (count > this.o.maxRegistered) {
      await this.o.store.incr('client-count', 365 * 24 * 3600_000, -1);
      throw new OAuthError('invalid_client_metadata', 'too many registered clients', 503);
    }
    const method = m.token_endpoint_auth_method ?? 'client_secret_basic';
    const secret = method === 'none' ? undefined : `tgs_${randomBytes(32).toString('base64url')}`;
    const client: OAuthClient = {
      client_id: `tgc_${randomBytes(16).toString('base64url')}`,
      client_name: m.client_name,
      client_uri: m.client_uri,
      logo_uri: m.logo_uri,
      redirect_uris: m.redirect_uris,
      token_endpoint_auth_method: method,
      secret_hash: secret && secretHash(secret),
      client_id_issued_at: Math.floor(Date.now() / 1000),
      kind: 'registered',
    };
    await this.o.store.set(`client:${client.client_id}`, client);
    const { secret_hash: _h, kind: _k, ...shown } = client;
    return {
      ...shown,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    };
  }

  async remove(clientId: string): Promise<boolean> {
    const had = await this.o.store.take(`client:${clientId}`);
    // Its place among maxRegistered is free again (before, removing clients never made room).
    if (had !== undefined) await this.o.store.incr('client-count', 365 * 24 * 3600_000, -1);
    return had !== undefined;
  }

  async registered(): Promise<OAuthClient[]> {
    return (await this.o.store.list<OAuthClient>('client:')).map((e) => e.value);
  }
}
