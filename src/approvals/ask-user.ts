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

const LAST_LINE = 'Accept runs the call; decline refuses it.';
const ARGS_CUT = '… [the arguments are too long to show in full: decline unless you know the rest]';

/**
 * The question. The agent writes the arguments and the upstream the description, so neither may
 * hide the other or the end of the question: the arguments come right after the tool (before the
 * description), and when they do not fit the message says so instead of ending mid-value.
 */
export function elicitationParams(f: AskFacts): Record<string, unknown> {
  const head = ['Approve this tool call?', `Tool: ${f.tool.slice(0, 200)}`].join('\n');
  const policy = f.message ? `\nPolicy: ${f.message}` : '';
  const tail = `\n${LAST_LINE}`;
  let args = `\nArguments: ${JSON.stringify(f.args, null, 2)}`;
  const room = MAX_MESSAGE_CHARS - head.length - policy.length - tail.length;
  if (args.length > room) args = `${args.slice(0, Math.max(0, room - ARGS_CUT.length))}${ARGS_CUT}`;
  let description = f.description ? `\nDescription: ${f.description.slice(0, 1000)}` : '';
  const left = room - args.length;
  if (description.length > left) description = left > 1 ? `${description.slice(0, left - 1)}…` : '';
  const message = `${head}${args}${policy}${description}${tail}`;
  return {
    mode: 'form',
    message,
    requestedSchema: { type: 'object', properties: {} },
  };
}

/** `withdrawn`: the agent cancelled its call; `void`: this instance stopped while the user was asked. */
export type UserAnswer = 'accept' | 'decline' | 'cancel' | 'timeout' | 'withdrawn' | 'void';

/** What an elicitation answer (a result or an error) says. */
export function answerOf(res: JsonRpcResponse | Record<string, unknown> | undefined): 'accept' | 'decline' | 'cancel' {
  const result = res && 'jsonrpc' in res ? ('result' in res ? res.result : undefined) : res;
  const action = isObject(result) ? result.action : undefined;
  return action === 'accept' ? 'accept' : action === 'decline' ? 'decline' : 'cancel';
}

/**
 * Sends the elicitation to a 2025 agent on its call's stream and waits for the answer, the timeout,
 * or an end from outside (the agent's cancel of its call, this instance stopping), whichever first.
 * The answer arrives through the session's server-request map, on this instance or from another
 * over the session bus. `onEnd` gets the function that ends the wait, then undefined once it ended.
 */
export function askAgent(
  session: AgentSession,
  exchange: Exchange,
  params: Record<string, unknown>,
  timeoutMs: number,
  onEnd: (end: ((why: 'withdrawn' | 'void') => void) | undefined) => void,
): Promise<UserAnswer> {
  const id = session.newServerRequestId();
  return new Promise<UserAnswer>((resolve) => {
    let settled = false;
    const done = (a: UserAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.serverRequests.delete(id);
      onEnd(undefined);
      resolve(a);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    onEnd(done);
    if (settled) return; // ended already (the instance is stopping): nothing is asked
    session.serverRequests.set(id, {
      upstreamSession: { respond: (answer: JsonRpcResponse) => done(answerOf(answer)) },
      upstreamRequestId: id,
      method: 'elicitation/create',
      upstream: '@approvals',
    });
    exchange.emit({ jsonrpc: '2.0', id, method: 'elicitation/create', params });
  });
}
