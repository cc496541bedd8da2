// What a 2026-07-28 request carries besides its body: the per-request `_meta` envelope and the
// headers that mirror the body (Mcp-Method, Mcp-Name, Mcp-Param-* from the tool's `x-mcp-header`
// declarations), encoded as the spec's Streamable HTTP section says.
import { isObject } from '../mcp/jsonrpc.js';
import { META_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL, META_VERSION } from '../mcp/era.js';

export const MODERN_VERSION = '2026-07-28';

/** Who asks, per call: the agent's declared capabilities and log level (none for the gateway's own calls). */
export interface AgentEnvelope {
  capabilities: Record<string, unknown>;
  logLevel?: string | undefined;
}

/** Which param each method mirrors in `Mcp-Name`. */
const NAME_PARAM = new Map<string, 'name' | 'uri'>([
  ['tools/call', 'name'],
  ['prompts/get', 'name'],
  ['resources/read', 'uri'],
]);

/** The params with the envelope merged into `_meta` (other `_meta` keys, e.g. progressToken, stay). */
export function withEnvelope(
  params: Record<string, unknown> | undefined,
  clientInfo: { name: string; version: string },
  agent: AgentEnvelope | undefined,
): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    ...(isObject(params?._meta) ? params._meta : {}),
    [META_VERSION]: MODERN_VERSION,
    [META_CAPABILITIES]: agent?.capabilities ?? {},
    [META_CLIENT_INFO]: clientInfo,
  };
  if (agent?.logLevel !== undefined) meta[META_LOG_LEVEL] = agent.logLevel;
  return { ...params, _meta: meta };
}

/**
 * A value that is not a plain visible-ASCII field value (or is empty, padded, or looks like the
 * sentinel itself) travels as `=?base64?<utf-8 base64>?=`.
 */
export function encodeHeaderValue(v: string): string {
  const plain =
    v.length > 0 && v === v.trim() && !(v.startsWith('=?base64?') && v.endsWith('?=')) && /^[\t\x20-\x7e]*$/.test(v);
  return plain ? v : `=?base64?${Buffer.from(v, 'utf8').toString('base64')}?=`;
}

/** `x-mcp-header` declarations reachable through `properties` chains: header name → argument path. */
export function headerDeclarations(inputSchema: unknown): ReadonlyArray<{ header: string; path: readonly string[] }> {
  const out: { header: string; path: string[] }[] = [];
  const visit = (node: unknown, path: string[]): void => {
    if (!isObject(node)) return;
    const name = node['x-mcp-header'];
    if (path.length > 0 && typeof name === 'string' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name))
      out.push({ header: name, path });
    if (!isObject(node.properties)) return;
    for (const [k, child] of Object.entries(node.properties)) visit(child, [...path, k]);
  };
  visit(inputSchema, []);
  return out;
}

function primitive(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' && Number.isFinite(v) && (!Number.isInteger(v) || Number.isSafeInteger(v)))
    return String(v);
  return undefined;
}

/**
 * The headers a 2026 request mirrors from its body, on top of the call's own `carried` ones (trace
 * context, an agent's `Mcp-Param-*`); `toolSchema` finds a tool's inputSchema.
 */
export function mirroredHeaders(
  method: string,
  params: Record<string, unknown> | undefined,
  toolSchema: (name: string) => unknown,
  carried?: Readonly<Record<string, string>>,
): Record<string, string> {
  const h: Record<string, string> = { ...carried, 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': method };
  const param = NAME_PARAM.get(method);
  const named = param ? params?.[param] : undefined;
  if (typeof named === 'string') h['mcp-name'] = encodeHeaderValue(named);
  if (method !== 'tools/call' || typeof named !== 'string') return h;
  for (const { header, path } of headerDeclarations(toolSchema(named))) {
    let v: unknown = params?.arguments;
    for (const k of path) v = isObject(v) ? v[k] : undefined;
    const s = primitive(v);
    const key = `mcp-param-${header.toLowerCase()}`;
    if (s !== undefined) h[key] = encodeHeaderValue(s);
    // A declared parameter's header says what the body says, or is absent: an agent's own (passed on
    // for parameters we do not know) must not stand in for a missing or non-primitive argument, which
    // the policy judged as such (infrastructure may route on the header).
    else delete h[key];
  }
  return h;
}
