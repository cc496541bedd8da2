// `ask: user`: the agent's own user says yes or no through MCP elicitation. The request states
// plainly what will run: the tool, its description and the arguments as the audit shows them
// (redacted). 2025 agents get it as a real `elicitation/create` request on the call's stream; 2026
// agents get it inside an `input_required` result (see step.ts).
import { isObject, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import type { AuditJson } from '../audit/record.js';
import type { AgentSession } from '../mcp/agent-session.js';
import type { Exchange } from '../relay/scope.js';

/** The inputRequests key of a 2026 approval round. */
export const INPUT_KEY = 'tollgate_approval';
const MAX_MESSAGE_CHARS = 4000;

export interface AskFacts {
  tool: string;
  description: string | null;
  args: AuditJson;
  message: string | null;
}

/** Whether the agent can answer a form elicitation (`elicitation: {}` means form, by the spec). */
export function canElicitForm(capabilities: Record<string, unknown>): boolean {
  const e = capabilities.elicitation;
  if (!isObject(e)) return false;
  return !('url' in e) || 'form' in e;
}

export function elicitationParams(f: AskFacts): Record<string, unknown> {
  const args = JSON.stringify(f.args, null, 2);
  let message = [
    `Approve this tool call?`,
    `Tool: ${f.tool}`,
    ...(f.description ? [`Description: ${f.description.slice(0, 1000)}`] : []),
    `Arguments: ${args}`,
    ...(f.message ? [`Policy: ${f.message}`] : []),
    'Accept runs the call; decline refuses it.',
  ].join('\n');
  if (message.length > MAX_MESSAGE_CHARS) message = `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
  return {
    mode: 'form',
    message,
    requestedSchema: { type: 'object', properties: {} },
  };
}

export type UserAnswer = 'accept' | 'decline' | 'cancel' | 'timeout' | 'withdrawn';

/** What an elicitation answer (a result or an error) says. */
export function answerOf(res: JsonRpcResponse | Record<string, unknown> | undefined): 'accept' | 'decline' | 'cancel' {
  const result = res && 'jsonrpc' in res ? ('result' in res ? res.result : undefined) : res;
  const action = isObject(result) ? result.action : undefined;
  return action === 'accept' ? 'accept' : action === 'decline' ? 'decline' : 'cancel';
}

/**
 * Sends the elicitation to a 2025 agent on its call's stream and waits for the answer, the timeout
 * or the agent's cancel of its call (whichever first). The answer arrives through the session's
 * server-request map, on this instance or from another over the session bus.
 */
export function askAgent(
  session: AgentSession,
  exchange: Exchange,
  params: Record<string, unknown>,
  timeoutMs: number,
  onCancel: (cancel: (() => void) | undefined) => void,
): Promise<UserAnswer> {
  const id = session.newServerRequestId();
  return new Promise<UserAnswer>((resolve) => {
    const done = (a: UserAnswer): void => {
      clearTimeout(timer);
      session.serverRequests.delete(id);
      onCancel(undefined);
      resolve(a);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    onCancel(() => done('withdrawn'));
    session.serverRequests.set(id, {
      upstreamSession: { respond: (answer: JsonRpcResponse) => done(answerOf(answer)) },
      upstreamRequestId: id,
      method: 'elicitation/create',
      upstream: '@approvals',
    });
    exchange.emit({ jsonrpc: '2.0', id, method: 'elicitation/create', params });
  });
}
