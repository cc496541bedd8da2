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
    /** The agent sessions on this instance (made after the upstreams, so asked for when needed). */
    agentSessions: () => Iterable<{ id: string; agentId: string }>;
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
  // A revoked connection ends that user's own upstream sessions here: per_agent's one, and per_session's
  // one for each of the user's agent sessions (still open at the upstream, a GET stream relaying it).
  // Revocations served by other instances sharing the Redis vault come here too (revocations.ts).
  credentials.agentsHere = () => Array.from(deps.agentSessions(), (s) => s.agentId);
  credentials.revoked = (upstream, agent) => {
    const u = upstreams.find((x) => x.name === upstream);
    u?.releaseAgent(agent);
    if (u?.cfg.isolation === 'per_session')
      for (const s of deps.agentSessions()) if (s.agentId === agent) u.release(s.id);
  };
  return { credentials, upstreams };
}
