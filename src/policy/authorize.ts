// MCP step: a routed call runs only if the agent's policy allows it (name, then argument
// constraints). List calls are filtered by the same AgentAccess in the relay.
import { GatewayError } from '../errors.js';
import type { McpStep } from '../relay/scope.js';

export function authorize(): McpStep {
  // Not async: a pass-through step that awaits nothing would add a promise and three microtask
  // turns per call (measured on the relay's hot path). A throw still reaches the caller's await.
  return (call, next) => {
    const t = call.target;
    if (!t) return next();
    const d = call.scope.access.decide(t.kind, t.canonical, t.args);
    call.decision = d; // the same shape, shared and frozen: later steps replace it, never change it
    if (!d.allowed) {
      return Promise.resolve(
        new GatewayError('forbidden', `access denied: ${d.reason}`, { reason: 'policy', rule: d.rule }).toJsonRpc(
          call.request.id,
        ),
      );
    }
    return next();
  };
}
