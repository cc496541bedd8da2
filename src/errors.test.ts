import { describe, expect, it } from 'vitest';
import { GatewayError, asGatewayError, httpStatusOf, rpcCodeOf, type ErrorKind } from './errors.js';

const kinds: ErrorKind[] = [
  'parse_error',
  'invalid_request',
  'method_not_found',
  'invalid_params',
  'not_acceptable',
  'unsupported_media_type',
  'payload_too_large',
  'method_not_allowed',
  'conflict',
  'unauthorized',
  'forbidden',
  'origin_denied',
  'session_required',
  'session_not_found',
  'unsupported_protocol_version',
  'header_mismatch',
  'missing_capability',
  'version_unsupported',
  'unknown_target',
  'upstream_unavailable',
  'upstream_timeout',
  'upstream_bad_response',
  'cancelled',
  'rate_limited',
  'budget_exceeded',
  'over_capacity',
  'approval_refused',
  'authorization_required',
  'internal',
];

describe('error mapping', () => {
  it('gives every kind an HTTP status and a JSON-RPC code', () => {
    for (const k of kinds) {
      expect(httpStatusOf(k)).toBeGreaterThanOrEqual(400);
      expect(rpcCodeOf(k)).toBeLessThan(-32000 + 1);
    }
  });
  it('a refused approval is -32043 (403), apart from policy denials', () => {
    expect(rpcCodeOf('approval_refused')).toBe(-32043);
    expect(httpStatusOf('approval_refused')).toBe(403);
  });
  it('hides unexpected errors behind a generic internal error', () => {
    const e = asGatewayError(new Error('database password is hunter2'));
    expect(e.kind).toBe('internal');
    expect(JSON.stringify(e.toJsonRpc(1))).not.toContain('hunter2');
  });
  it('asks for upstream authorization with the MCP URL-elicitation code, never a 401', () => {
    expect(rpcCodeOf('authorization_required')).toBe(-32042);
    expect(httpStatusOf('authorization_required')).toBe(403);
  });
  it('renders a JSON-RPC error with data when present', () => {
    expect(new GatewayError('upstream_timeout', 'slow', { server: 'x' }).toJsonRpc('a')).toEqual({
      jsonrpc: '2.0',
      id: 'a',
      error: { code: -32001, message: 'slow', data: { server: 'x' } },
    });
  });
});
