// What the upstream-connection pages (/connections) are given from the gateway (app.ts mounts them,
// behind the origin guard); separate so app.ts keeps to the pipeline's order.
import type { Gateway } from './gateway.js';
import type { ConnectionRoutesOptions } from './credentials/routes.js';
import type { Vault } from './credentials/vault.js';

/** With auth.oauth its users sign in to these pages, and links naming them need that sign-in. */
export function connectionOptions(
  gw: Pick<Gateway, 'config' | 'credentials' | 'oauth' | 'policies' | 'publicBase'>,
  vault: Vault,
): ConnectionRoutesOptions {
  const { config } = gw;
  const as = gw.oauth;
  const flow = as?.connectionsSignIn();
  const signIn = as &&
    flow && {
      flow,
      isUserAgent: (agent: string) => gw.policies.current().isOAuthAgent(agent, as.config.agentPrefix),
      agentOf: (user: { sub: string }) =>
        // No MCP client here (its oauth_clients do not apply): the agent the user acts as.
        gw.policies.current().agentForOAuth(user.sub, '', as.config.agentPrefix).agent,
    };
  return {
    credentials: gw.credentials,
    keys: vault.keys,
    linkTtlMs: config.credentials.linkTtlMs,
    secureCookies: config.server.publicUrl?.startsWith('https:') === true,
    baseUrl: () => gw.publicBase(),
    ...(signIn ? { signIn } : {}),
  };
}
