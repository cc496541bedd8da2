// What a re-read config file (SIGHUP) changes in a running gateway, and what it leaves for a
// restart; separate so gateway.ts keeps to assembly.
import type { Logger } from 'pino';
import type { RuntimeConfig } from './config/runtime.js';
import type { OAuthServer } from './oauth/server.js';
import type { PolicyStore } from './policy/store.js';
import type { PinStore } from './pins/store.js';
import { applyChangedSections } from './gateway-health.js';
import { reloadOAuthUsers } from './gateway-auth.js';

/** What a reload changes in place. */
export interface ReloadTargets {
  /** Rebuilds the agent authenticators from a config, in place (the middleware reads them per request). */
  auth(config: RuntimeConfig): void;
  oauth: OAuthServer | undefined;
  log: Pick<Logger, 'level'>;
  policies: Pick<PolicyStore, 'reload'>;
  pinStore: Pick<PinStore, 'reload'> | undefined;
}

/**
 * Applies `next` over `prev`, the config as running (see Gateway.applyConfig): agent credentials
 * (API keys, JWT, auth.oauth's users), the log level, then the policies and pins are re-read.
 * Returns the sections applied, those needing a restart, and the config now running.
 */
export function reloadGateway(
  prev: RuntimeConfig,
  next: RuntimeConfig,
  t: ReloadTargets,
): { applied: string[]; restartNeeded: string[]; running: RuntimeConfig } {
  const { applied, restartNeeded } = applyChangedSections(prev, next, {
    auth: () => t.auth(next),
    log: () => {
      t.log.level = next.log.level;
    },
  });
  let auth = prev.auth;
  if (applied.includes('auth')) {
    const oauthApplied = reloadOAuthUsers(t.oauth, prev.auth.oauth, next.auth.oauth);
    if (!oauthApplied) restartNeeded.push('auth.oauth');
    auth = { ...next.auth, oauth: oauthApplied ? next.auth.oauth : prev.auth.oauth };
  }
  const running = { ...prev, auth, log: applied.includes('log') ? next.log : prev.log };
  if (t.policies.reload('SIGHUP').ok) applied.push('policies');
  void t.pinStore?.reload('SIGHUP');
  return { applied, restartNeeded, running };
}
