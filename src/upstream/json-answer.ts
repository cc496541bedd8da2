// A Streamable HTTP upstream's JSON answer to a POST: its JSON-RPC message or batch, each delivered
// as the answer to (or a message related to) the request the POST carried.
import { validateMessage, type JsonRpcMessage, type RequestId } from '../mcp/jsonrpc.js';
import { UPSTREAM_JSON, parseBounded } from '../mcp/json-shape.js';

/** Delivers a JSON body's message(s) to `deliver`. false when it holds no JSON-RPC message. */
export function deliverJsonAnswer(
  text: string,
  requestId: RequestId | undefined,
  deliver: (msg: JsonRpcMessage, related: RequestId | undefined) => void,
): boolean {
  const bounded = parseBounded(text, UPSTREAM_JSON);
  if (!('value' in bounded)) return false;
  const parsed = bounded.value;
  const list = Array.isArray(parsed) ? parsed : [parsed];
  let delivered = false;
  for (const item of list) {
    const msg = validateMessage(item);
    if (typeof msg === 'string') continue;
    // A 4xx JSON-RPC error without id still answers the request that caused it.
    if (!('method' in msg) && msg.id === null && requestId !== undefined) (msg as { id: RequestId }).id = requestId;
    deliver(msg, requestId);
    delivered = true;
  }
  return delivered;
}
