// Who is calling: the result of authentication, carried through the pipeline and into the audit.
export type AuthMethod = 'api_key' | 'jwt' | 'anonymous';

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
}

/** Why a bearer token was not accepted, in RFC 6750 terms. */
export type AuthFailure =
  | { error: 'invalid_token'; description: string }
  | { error: 'insufficient_scope'; description: string; scope: string };

export type AuthResult = { ok: true; identity: AgentIdentity } | ({ ok: false } & AuthFailure);

/** One way to check a bearer token. `undefined`: this token is not of my kind (try the next). */
export interface Authenticator {
  readonly name: string;
  authenticate(token: string): Promise<AuthResult | undefined> | AuthResult | undefined;
}
