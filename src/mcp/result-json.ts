// A result's JSON text, made once per result: the audit hashes that text (tollgate.result.sha256)
// and the agent's JSON answer embeds the same text, instead of serialising the result twice (a
// large tool result cost twice its size in JSON.stringify on every call).
import type { JsonRpcResponse } from './jsonrpc.js';

const texts = new WeakMap<object, string>();

/** JSON.stringify(result), remembered for the result object (which must not change afterwards). */
export function resultJson(result: object): string {
  let text = texts.get(result);
  if (text === undefined) {
    text = JSON.stringify(result) ?? 'null';
    texts.set(result, text);
  }
  return text;
}

/** A response's JSON text: `{"jsonrpc","id","result"}` around a result's remembered text, else JSON.stringify. */
export function responseJson(res: JsonRpcResponse): string {
  if ('result' in res && typeof res.result === 'object' && res.result !== null) {
    const text = texts.get(res.result);
    if (text !== undefined && Object.keys(res).length === 3 && res.jsonrpc === '2.0')
      return `{"jsonrpc":"2.0","id":${JSON.stringify(res.id)},"result":${text}}`;
  }
  return JSON.stringify(res);
}
