import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/runtime.js';
import type { Channel } from './channel.js';
import { HttpChannel } from './http-channel.js';
import { LegacySseChannel } from './legacy-sse-channel.js';
import { StdioChannel } from './stdio-channel.js';
import type { UpstreamCredentials } from './channel-auth.js';

export function createChannel(
  cfg: UpstreamConfig,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
  replicaUrl?: string,
  /** Per-user credentials (upstreams.<name>.auth) and whose channel this is (undefined: the shared one). */
  credentials?: { of: UpstreamCredentials; agentId: string | undefined },
): Channel {
  switch (cfg.transport) {
    case 'stdio': {
      const extra = credentials?.of.env(credentials.agentId);
      return new StdioChannel(extra ? { ...cfg, env: { ...cfg.env, ...extra } } : cfg, env, log);
    }
    case 'streamable_http':
      return new HttpChannel(cfg, log, {}, replicaUrl, credentials?.of.channelAuth(credentials.agentId));
    case 'sse':
      return new LegacySseChannel(cfg, log);
  }
}
