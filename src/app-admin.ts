// What the admin API and page are given from the gateway (app.ts mounts them, behind the origin
// guard); separate so app.ts keeps to the pipeline's order.
import type { Gateway } from './gateway.js';
import type { AdminDeps, UpstreamStatus } from './admin/routes.js';
import type { Upstream } from './upstream/upstream.js';
import { redactorFor } from './audit/open.js';
import { adminSessionKeys } from './admin/admin-session.js';

/** One upstream as the admin API and page list it: state, catalog sizes, replicas. */
function upstreamStatus(u: Upstream): UpstreamStatus {
  return {
    name: u.name,
    transport: u.cfg.transport,
    state: u.state,
    ...(u.lastError && u.state !== 'ready' ? { error: u.lastError } : {}),
    tools: u.catalog.tools.length,
    prompts: u.catalog.prompts.length,
    resources: u.catalog.resources.length,
    ...(u.catalogTruncated.length > 0 ? { truncated: [...u.catalogTruncated] } : {}),
    ...(u.replicas.length > 1 ? { replicas: u.replicas.map((r) => r.describe()) } : {}),
    ...(u.cfg.isolation !== 'shared' ? { ownSessions: u.ownSessions } : {}),
  };
}

/**
 * Their own credential, the audit log, usage, upstream health; and with auth.oauth, users signing
 * in with their account to decide the approvals that name them.
 */
export function adminDeps(
  gw: Pick<
    Gateway,
    'config' | 'recorder' | 'upstreams' | 'policies' | 'usage' | 'pins' | 'approvals' | 'credentials' | 'oauth'
  >,
): AdminDeps {
  const { config } = gw;
  const adminSignIn = gw.oauth?.adminSignIn();
  return {
    tokens: config.admin.tokens,
    tokenHashes: config.admin.tokenHashes,
    auditPath: config.audit.stdout ? undefined : config.audit.file,
    recorder: gw.recorder,
    ...(gw.recorder.fleet ? { fleet: { store: gw.recorder.fleet.store, feed: gw.recorder.fleet.feed } } : {}),
    redact: redactorFor(config),
    upstreams: () => gw.upstreams.map(upstreamStatus),
    agents: () => gw.policies.current().agentIds(),
    usage: (agent) => gw.usage(agent),
    reloadPolicies: () => gw.policies.reload('admin API'),
    ...(gw.pins ? { pins: gw.pins } : {}),
    approvals: gw.approvals,
    ...(gw.credentials.vault ? { connections: () => gw.credentials.connections() } : {}),
    ...(gw.oauth ? { oauth: gw.oauth.admin() } : {}),
    ...(adminSignIn ? { signIn: adminSignIn } : {}),
    sseKeepaliveMs: config.server.sseKeepaliveMs,
    sessionKeys: adminSessionKeys(config.sessions.sealKeys),
    secureCookies: config.server.publicUrl?.startsWith('https:') === true,
  };
}
