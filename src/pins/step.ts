// MCP step: a call to a held tool (its definition changed since it was approved) is refused before
// it reaches the upstream; with pin action `warn` it runs.
import { GatewayError } from '../errors.js';
import type { McpStep } from '../relay/scope.js';
import type { PinGuard } from './guard.js';

export function pinStep(guard: PinGuard): McpStep {
  // Not async: passing a call on must not cost a promise and microtask turns (hot path).
  return (call, next) => {
    const t = call.target;
    if (t?.kind !== 'tool' || call.request.method !== 'tools/call') return next();
    const held = guard.refusal(t.server, t.native);
    if (!held) return next();
    const why =
      held.reason === 'changed' ? 'its definition changed since it was approved' : 'it is new and not approved yet';
    const reason = `tool ${t.canonical} is held: ${why}; an operator must approve it (tollgate pins approve ${t.server}/${t.native})`;
    const rule = held.reason === 'changed' ? 'tool.pin_mismatch' : 'tool.unpinned';
    call.decision = { decision: 'denied', rule, reason };
    return Promise.resolve(
      new GatewayError('forbidden', reason, {
        reason: 'tool_pin',
        rule,
        pinnedSha256: held.pinnedSha256,
        sha256: held.sha256,
      }).toJsonRpc(call.request.id),
    );
  };
}
