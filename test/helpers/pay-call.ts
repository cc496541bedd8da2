// The call the approvals step tests hold: agent "a" calling pay__send, built by hand (no relay).
import type { AgentAccess } from '../../src/policy/access.js';
import type { McpCall } from '../../src/relay/scope.js';

/** Agent "a"'s tools/call of pay__send with `args` (and extra `params`, such as `_meta`). */
export function payCall(
  args: Record<string, unknown>,
  params: Record<string, unknown> = {},
  capabilities: Record<string, unknown> = {},
): McpCall {
  const p = { name: 'pay__send', arguments: args, ...params };
  return {
    scope: {
      agentId: 'a',
      identity: { id: 'a', method: 'api_key', scopes: [], claims: {} },
      access: {} as AgentAccess,
      session: undefined,
      view: {} as McpCall['scope']['view'],
      capabilities,
    },
    request: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: p },
    target: { server: 'pay', native: 'send', kind: 'tool', canonical: 'pay__send', args },
    exchange: { emit: () => undefined },
    params: p,
  };
}
