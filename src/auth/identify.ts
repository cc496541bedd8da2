// The agent a bearer token names, asking each authenticator in turn: for the fast lanes (/mcp and
// /v1), which decide before Hono whether they serve a request.
import type { AgentIdentity, Authenticator } from './identity.js';

/**
 * The agent `token` names, or undefined (refused, or of no authenticator's kind: Hono answers that).
 * A promise only when an authenticator needs one (API keys and cached JWTs answer at once: no
 * promise per request on the hot path).
 */
export function identify(
  authenticators: readonly Authenticator[],
  token: string,
  path: string,
  from = 0,
): AgentIdentity | undefined | Promise<AgentIdentity | undefined> {
  for (let i = from; i < authenticators.length; i++) {
    const found = (authenticators[i] as Authenticator).authenticate(token, { path });
    if (found instanceof Promise)
      return found.then((r) =>
        r === undefined ? identify(authenticators, token, path, i + 1) : r.ok ? r.identity : undefined,
      );
    if (found !== undefined) return found.ok ? found.identity : undefined;
  }
  return undefined;
}
