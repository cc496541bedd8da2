// Accepts the access tokens Tollgate's own authorization server signs: ES256 with a key from its
// JWKS, `typ: at+jwt`, our issuer, an audience the requested path accepts (a /v1 token is refused
// on /mcp), not expired, and a grant that is still alive (revocation and refresh-token reuse end a
// token before its exp), whose user may still log in (a local user removed from the config by a
// reload loses their tokens at once, not at the grant's next refresh). The user becomes an agent
// through the policies.
import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { Authenticator, AuthResult } from '../auth/identity.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { SigningKeys } from './keys.js';
import type { GrantService, Subject } from './grants.js';
import { audiencesFor, type ResourceSpace } from './resources.js';

export interface OAuthAuthenticatorOptions {
  keys: SigningKeys;
  grants: GrantService;
  /** The grant's user as the config has them now; undefined when they may no longer log in. */
  subjectNow: (s: Subject) => Subject | undefined;
  issuer: () => string;
  resources: ResourceSpace;
  policies: () => PolicySet;
  agentPrefix: string;
}

const fail = (description: string): AuthResult => ({ ok: false, error: 'invalid_token', description });

export function oauthAuthenticator(o: OAuthAuthenticatorOptions): Authenticator {
  return {
    name: 'oauth',
    async authenticate(token, request) {
      if (token.split('.').length !== 3) return undefined;
      let kid: string | undefined;
      try {
        const header = decodeProtectedHeader(token);
        if (header.typ !== 'at+jwt' || typeof header.kid !== 'string' || !header.kid.startsWith('tg-'))
          return undefined;
        kid = header.kid;
      } catch {
        return undefined;
      }
      const key = await o.keys.verifying(kid);
      if (!key) return fail('unknown signing key');
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, key, {
          issuer: o.issuer(),
          audience: audiencesFor(o.resources, request?.path ?? '/mcp'),
          algorithms: ['ES256'],
          typ: 'at+jwt',
          requiredClaims: ['exp', 'sub', 'gid', 'client_id'],
        }));
      } catch (err) {
        if (err instanceof errors.JWTExpired) return fail('token expired');
        if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud')
          return fail('token is for another resource');
        return fail('token verification failed');
      }
      const sub = String(payload.sub);
      const client = String(payload.client_id);
      // The grant is read on every request (the store's Map in memory; one GET with Redis, which
      // is how a revocation on another instance ends this token at once). Its user is looked up in
      // the users as last applied, a Map: company (OIDC) logins are not listed and pass as they are.
      const grant = await o.grants.get(String(payload.gid));
      if (!grant) return fail('token revoked');
      if (!o.subjectNow(grant)) return fail('the user may no longer log in');
      const groups = Array.isArray(payload.groups)
        ? payload.groups.filter((g): g is string => typeof g === 'string')
        : [];
      const { agent, clientAllowed } = o.policies().agentForOAuth(sub, client, o.agentPrefix);
      if (!clientAllowed) return fail(`client ${client} may not act as agent ${agent}`);
      const scope = typeof payload.scope === 'string' ? payload.scope : '';
      return {
        ok: true,
        identity: {
          id: agent,
          method: 'oauth',
          scopes: scope.split(' ').filter(Boolean),
          claims: payload,
          expiresAt: Number(payload.exp) * 1000,
          user: sub,
          client,
          groups,
        },
      };
    },
  };
}
