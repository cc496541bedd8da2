// The 2025 handshake's answer: the upstream's initialize result checked (no error, a protocol version we speak) and read into an InitializeOutcome, as probeDiscover (modern-link.ts) reads 2026's; separate so session.ts keeps to the session.
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { isObject, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import { ChannelError } from './channel.js';
import type { InitializeOutcome } from './session-types.js';

export function initializeOutcomeOf(res: JsonRpcResponse): InitializeOutcome {
  if ('error' in res) throw new ChannelError(`upstream refused initialize: ${res.error.message}`);
  const r = res.result;
  const version = typeof r.protocolVersion === 'string' ? r.protocolVersion : '';
  if (!SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    throw new ChannelError(`upstream speaks unsupported protocol version ${JSON.stringify(version)}`);
  }
  return {
    protocolVersion: version,
    capabilities: isObject(r.capabilities) ? r.capabilities : {},
    serverInfo: isObject(r.serverInfo) ? r.serverInfo : {},
    instructions: typeof r.instructions === 'string' ? r.instructions : undefined,
  };
}
