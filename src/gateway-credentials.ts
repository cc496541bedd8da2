// The upstreams together with their users' credentials (upstreams.<name>.auth), which refer to each
// other; separate so gateway.ts keeps to assembly.
import type { RuntimeConfig } from './config/runtime.js';
import type { Upstream, UpstreamListener } from './upstream/upstream.js';
import { Credentials, type CredentialsDeps } from './credentials/credentials.js';
import { gatewayUpstreams } from './gateway-upstreams.js';

/** The token vault and its sources first (each upstream gets its own), then the upstreams. */
export function credentialedUpstreams(
  config: RuntimeConfig,
  deps: CredentialsDeps & {
    env: Readonly<Record<string, string | undefined>>;
    listener: UpstreamListener;
  },
): { credentials: Credentials; upstreams: Upstream[] } {
  const credentials = new Credentials(config, {
    log: deps.log,
    baseUrl: deps.baseUrl,
    policyGroups: deps.policyGroups,
  });
  const upstreams = gatewayUpstreams(config, {
    log: deps.log,
    env: deps.env,
    listener: deps.listener,
    credentials,
  });
  // A revoked connection ends that user's own upstream session.
  credentials.revoked = (upstream, agent) => upstreams.find((u) => u.name === upstream)?.releaseAgent(agent);
  return { credentials, upstreams };
}
