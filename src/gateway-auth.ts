// Who may call the gateway: Tollgate's own OAuth authorization server and the authenticators tried in turn;
// separate so gateway.ts keeps to assembly.
import type { Logger } from 'pino';
import type { RuntimeConfig } from './config/runtime.js';
import type { PolicySet } from './policy/policy-set.js';
import type { Authenticator } from './auth/identity.js';
import { buildAuthenticators } from './auth/build.js';
import { OAuthServer } from './oauth/server.js';
import { oauthAuthenticator } from './oauth/authenticator.js';
import { oauthReload } from './oauth/reload.js';
import { clientAddressOf } from './http/client-address.js';
import { CidrSet } from './http/cidr.js';

/** Tollgate's own OAuth authorization server (auth.oauth); undefined when off. */
export function openOAuthServer(
  config: RuntimeConfig,
  deps: { baseUrl: () => string; resource: () => string; log: Logger },
): OAuthServer | undefined {
  const oc = config.auth.oauth;
  return (
    oc &&
    new OAuthServer({
      config: oc,
      baseUrl: deps.baseUrl,
      resources: {
        mcp: deps.resource,
        servers: config.upstreams.map((u) => u.name),
        llm: config.llm !== undefined,
        // The resource follows the address listened on: `localhost` and 127.0.0.1 name the same one.
        loopbackAliases: config.auth.resource === undefined && config.server.publicUrl === undefined,
      },
      log: deps.log,
      store: OAuthServer.openStore(oc, config.limits.redis, deps.log),
      // Per-address bounds count the client behind trusted proxies (server.trusted_proxies).
      addressOf: clientAddressOf(new CidrSet(config.server.trustedProxies)),
      // Users sign in to the admin side (to decide approvals) only where it is mounted.
      adminSignIn: config.admin.tokens.length + config.admin.tokenHashes.length > 0,
      // Users sign in to the connections pages where they are mounted (app.ts: a vault and an oauth upstream).
      connectionsSignIn:
        config.credentials.vault.keys.length > 0 && config.upstreams.some((u) => u.auth?.kind === 'oauth'),
    })
  );
}

/** Tollgate's own tokens first (an auth.jwt verifier would refuse them as another issuer's), then the configured ones. */
export function gatewayAuthenticators(
  config: RuntimeConfig,
  as: OAuthServer | undefined,
  policies: () => PolicySet,
  log: Logger,
  listenUrl?: string,
): Authenticator[] {
  const own = as
    ? [
        oauthAuthenticator({
          keys: as.keys,
          grants: as.grants,
          subjectNow: (s) => as.subjectNow(s),
          issuer: () => as.issuer(),
          resources: as.resources,
          policies,
          agentPrefix: as.config.agentPrefix,
        }),
      ]
    : [];
  return [...own, ...buildAuthenticators(config, policies, log, listenUrl)];
}

/** Applies a re-read auth.oauth in place when only its users changed; false when it needs a restart. */
export function reloadOAuthUsers(
  as: OAuthServer | undefined,
  prev: RuntimeConfig['auth']['oauth'],
  next: RuntimeConfig['auth']['oauth'],
): boolean {
  const oauth = oauthReload(prev, next);
  if (oauth.kind === 'users' && as) as.setUsers(oauth.users);
  else if (oauth.kind !== 'unchanged') return false;
  return true;
}
