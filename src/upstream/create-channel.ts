import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/runtime.js';
import type { Channel } from './channel.js';
import { HttpChannel } from './http-channel.js';
import { LegacySseChannel } from './legacy-sse-channel.js';
import { StdioChannel } from './stdio-channel.js';

export function createChannel(
  cfg: UpstreamConfig,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
  replicaUrl?: string,
): Channel {
  switch (cfg.transport) {
    case 'stdio':
      return new StdioChannel(cfg, env, log);
    case 'streamable_http':
      return new HttpChannel(cfg, log, {}, replicaUrl);
    case 'sse':
      return new LegacySseChannel(cfg, log);
  }
}
