// Who is calling: the result of authentication, carried through the pipeline and into the audit.
export type AuthMethod = 'api_key' | 'jwt' | 'oauth' | 'anonymous';

export interface AgentIdentity {
  /** The agent id policies, limits and the audit log know the caller by. */
  id: string;
  method: AuthMethod;
  /** Scopes granted by the token (JWT `scope`/`scp`), if any. */
  scopes: readonly string[];
  /** Verified JWT claims (for policy claim matches); empty for API keys. */
  claims: Readonly<Record<string, unknown>>;
  /** When the credential stops being valid (ms since epoch), if it expires. */
  expiresAt?: number;
  /** OAuth (Tollgate's own authorization server): the user who logged in, the client, their groups. */
  user?: string;
  client?: string;
  groups?: readonly string[];
}

/** Why a bearer token was not accepted, in RFC 6750 terms. */
export type AuthFailure =
  | { error: 'invalid_token'; description: string }
  | { error: 'insufficient_scope'; description: string; scope: string };

export type AuthResult = { ok: true; identity: AgentIdentity } | ({ ok: false } & AuthFailure);

/** One way to check a bearer token. `undefined`: this token is not of my kind (try the next). */
export interface Authenticator {
  readonly name: string;
  /** `request.path`: the path asked for (tokens bound to a resource are checked against it). */
  authenticate(token: string, request?: { path: string }): Promise<AuthResult | undefined> | AuthResult | undefined;
}
