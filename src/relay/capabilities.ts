// What an endpoint tells agents it offers: the initialize result (2025) and server/discover (2026).
import { isObject } from '../mcp/jsonrpc.js';
import type { AccessKind } from '../policy/access.js';
import { VERSION } from '../version.js';
import { ACCESS_OF } from './fanout.js';
import type { RequestScope } from './scope.js';
import type { View } from './view.js';

/**
 * The aggregate endpoint offers everything it can relay; a per-server endpoint mirrors its upstream
 * (with list_changed added: the gateway announces reconnects itself).
 */
export function initializeResult(serverName: string, view: View, protocolVersion: string): Record<string, unknown> {
  const only = view.namespaced ? undefined : view.upstreams[0];
  const upstreamCaps = only?.init?.capabilities;
  const capabilities: Record<string, unknown> = upstreamCaps
    ? withListChanged(upstreamCaps)
    : {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        logging: {},
        completions: {},
      };
  const notes = view.upstreams
    .filter((u) => u.init?.instructions)
    .map((u) => (view.namespaced ? `## ${u.name}\n${u.init?.instructions ?? ''}` : (u.init?.instructions ?? '')));
  const result: Record<string, unknown> = {
    protocolVersion,
    capabilities,
    serverInfo: { name: serverName, title: 'Tollgate MCP gateway', version: VERSION },
  };
  if (notes.length > 0) result.instructions = notes.join('\n\n');
  return result;
}

/**
 * `server/discover`: a capability is listed only when the agent's policy lets it see something of
 * that kind, with list_changed (and resource subscriptions) delivered on subscriptions/listen.
 */
export function discoverResult(
  base: Record<string, unknown>,
  scope: RequestScope,
  canonical: (server: string, kind: AccessKind, native: string) => string,
): Record<string, unknown> {
  const caps = { ...(base.capabilities as Record<string, unknown>) };
  for (const kind of ['tools', 'prompts', 'resources'] as const) {
    const sees = scope.view.upstreams.some((u) =>
      u.catalog[kind].some((e) =>
        scope.access.visible(
          ACCESS_OF[kind],
          canonical(u.name, ACCESS_OF[kind], String(kind === 'resources' ? e.uri : e.name)),
        ),
      ),
    );
    if (!sees) delete caps[kind];
    else caps[kind] = { listChanged: true }; // delivered on subscriptions/listen
  }
  // Resource subscriptions map onto upstream resources/subscribe: only where an upstream has it.
  const subscribe = scope.view.upstreams.some(
    (u) => isObject(u.init?.capabilities.resources) && u.init.capabilities.resources.subscribe === true,
  );
  if (isObject(caps.resources) && subscribe) caps.resources = { ...caps.resources, subscribe: true };
  const result: Record<string, unknown> = { supportedVersions: ['2026-07-28'], capabilities: caps };
  if (base.instructions !== undefined) result.instructions = base.instructions;
  return result;
}

function withListChanged(caps: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...caps };
  for (const k of ['tools', 'prompts', 'resources'] as const) {
    const v = caps[k];
    if (isObject(v)) out[k] = { ...v, listChanged: true };
  }
  return out;
}
