// `auth.kind: per_agent`: static secrets per agent or group (each team's own API key), from the
// config (usually ${ENV}) or files, sent as that upstream's headers (HTTP) or environment (stdio) on
// the agent's own upstream session. The shared (catalog) session keeps the upstream's own headers/env.
import { readFileSync } from 'node:fs';
import { GatewayError } from '../errors.js';
import type { ChannelAuth, UpstreamCredentials } from '../upstream/channel-auth.js';
import type { SecretSet, UpstreamAuth } from './runtime.js';

export class StaticSecrets implements UpstreamCredentials {
  private readonly resolved = new Map<SecretSet, { headers: Record<string, string>; env: Record<string, string> }>();

  constructor(
    readonly name: string,
    private readonly auth: Extract<UpstreamAuth, { kind: 'per_agent' }>,
    /** An agent's groups (policy groups, the JWT's groups claim). */
    private readonly groupsOf: (agentId: string) => readonly string[],
  ) {
    // Files are read once, at start: a missing secret fails the start, not a user's call.
    for (const set of [...Object.values(auth.agents), ...Object.values(auth.groups)]) {
      const headers: Record<string, string> = { ...set.headers };
      for (const [h, path] of Object.entries(set.headerFiles)) headers[h] = readFileSync(path, 'utf8').trim();
      this.resolved.set(set, { headers, env: { ...set.env } });
    }
  }

  private setFor(agentId: string): { headers: Record<string, string>; env: Record<string, string> } | undefined {
    const own = Object.hasOwn(this.auth.agents, agentId) ? this.auth.agents[agentId] : undefined;
    if (own) return this.resolved.get(own);
    for (const g of this.groupsOf(agentId)) {
      const set = Object.hasOwn(this.auth.groups, g) ? this.auth.groups[g] : undefined;
      if (set) return this.resolved.get(set);
    }
    return undefined;
  }

  /** Before a call: the agent has a secret here. */
  require(agentId: string): void {
    if (!this.setFor(agentId))
      throw new GatewayError('forbidden', `no credential for agent ${agentId} at upstream ${this.name}`);
  }

  channelAuth(agentId: string | undefined): ChannelAuth | undefined {
    if (agentId === undefined) return undefined;
    return {
      headers: async () => {
        const s = this.setFor(agentId);
        if (!s) throw new GatewayError('forbidden', `no credential for agent ${agentId} at upstream ${this.name}`);
        return s.headers;
      },
      rejected: () =>
        Promise.reject(
          new GatewayError('forbidden', `upstream ${this.name} refused the credential of agent ${agentId}`),
        ),
    };
  }

  env(agentId: string | undefined): Record<string, string> | undefined {
    return agentId === undefined ? undefined : this.setFor(agentId)?.env;
  }
}
