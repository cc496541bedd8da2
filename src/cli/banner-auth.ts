// What the start banner says about how agents authenticate, from what is really configured: keys in
// the config or in policy files, JWTs, the OAuth login, anonymous access — or nothing, which refuses
// every request and deserves to be said at start rather than found through a 401.
import type { RuntimeConfig } from '../config/runtime.js';

export const NO_CREDENTIALS_HINT =
  'make a key with `tollgate key new --agent NAME` and put its hash in policies/NAME.yaml (with policies.dir set), or see README: Agents: authentication and policies';

/**
 * Why no agent could ever authenticate with this config (what `authenticate` refuses to start
 * with), said in the config's own key names; undefined when some credential is configured.
 * `serve` stops on it before anything is spawned and `check` fails on it, so an operator learns it
 * from one line rather than from a stack trace or a 401 on every request. (Here, not in src/auth:
 * `check` reads it without importing the authenticators and their JWT library.)
 */
export function noCredentialsProblem(config: RuntimeConfig): string | undefined {
  const { auth } = config;
  if (auth.apiKeys.length > 0 || config.policies || auth.jwt || auth.oauth || auth.allowAnonymous) return undefined;
  return 'no agent can authenticate: configure auth.api_keys, a policies.dir whose files list api_key_hashes, auth.jwt or auth.oauth (or set auth.allow_anonymous: true)';
}

export interface BannerAuth {
  lines: string[];
  /** The header the "Try it" line shows; undefined when a client connects without one. */
  header: string | undefined;
}

export function bannerAuth(
  config: RuntimeConfig,
  policyKeyHashes: number,
  demoSecrets: ReadonlySet<string>,
): BannerAuth {
  const { auth } = config;
  const lines: string[] = [];
  let header: string | undefined;
  const firstKey = auth.apiKeys[0];
  if (firstKey) {
    const demo = demoSecrets.has(firstKey.key);
    lines.push(
      demo
        ? `  agent "${firstKey.agent}" connects with header:  Authorization: Bearer ${firstKey.key}  (the demo key: set its variable before exposing the gateway)`
        : `  agent "${firstKey.agent}" connects with header:  Authorization: Bearer <its API key>  (keys are not printed)`,
    );
    header = `Authorization: Bearer ${demo ? firstKey.key : '<its API key>'}`;
  }
  if (policyKeyHashes > 0) {
    lines.push(
      `  agents with a key in their policy file (${policyKeyHashes}) connect with header:  Authorization: Bearer <its API key>`,
    );
    header ??= 'Authorization: Bearer <its API key>';
  }
  if (auth.jwt) {
    const issuers = Array.isArray(auth.jwt.issuer) ? auth.jwt.issuer.join(', ') : auth.jwt.issuer;
    lines.push(`  agents connect with a JWT from ${issuers}:  Authorization: Bearer <JWT>`);
    header ??= 'Authorization: Bearer <JWT>';
  }
  if (auth.allowAnonymous)
    lines.push('  anonymous access: a request without a token acts as agent "anonymous" (auth.allow_anonymous)');
  // Only policies.dir is left (serve refuses a config with no credential at all): keys come with its files.
  if (lines.length === 0 && !auth.oauth) {
    lines.push(
      '  no agent has a key yet: every request is refused (401) until a policy file lists one (tollgate key new --agent NAME)',
    );
    header = 'Authorization: Bearer <its API key>';
  }
  return { lines, header };
}
