// Every failure Tollgate reports has one of these kinds. Each kind maps to exactly one HTTP status
// (used when the failure ends the HTTP exchange) and one JSON-RPC code (used in the error body and
// when the failure answers one message inside a healthy exchange). The switches are exhaustive, so
// adding a kind forces a decision on both.
import { errorMessage, type JsonRpcError, type RequestId } from './mcp/jsonrpc.js';

export type ErrorKind =
  | 'parse_error'
  | 'invalid_request'
  | 'method_not_found'
  | 'invalid_params'
  | 'not_acceptable'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'method_not_allowed'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'origin_denied'
  | 'session_required'
  | 'session_not_found'
  | 'unsupported_protocol_version'
  | 'header_mismatch'
  | 'missing_capability'
  | 'version_unsupported'
  | 'unknown_target'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'upstream_bad_response'
  | 'cancelled'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'over_capacity'
  | 'approval_refused'
  | 'authorization_required'
  | 'internal';

/** Tollgate's own JSON-RPC codes live in the implementation-defined server-error range. */
export const TollgateCode = {
  Unauthorized: -32040,
  Forbidden: -32041,
  SessionNotFound: -32044,
  UnknownTarget: -32602,
  UpstreamUnavailable: -32050,
  UpstreamTimeout: -32001, // the SDK's RequestTimeout, so clients already know it
  UpstreamBadResponse: -32052,
  Cancelled: -32800,
  HeaderMismatch: -32020,
  MissingCapability: -32021,
  VersionUnsupported: -32022,
  RateLimited: -32029,
  BudgetExceeded: -32028,
  OverCapacity: -32030,
  ApprovalRefused: -32043, // a person declined, or no one decided in time (data.approval says which)
  /** MCP 2025-11-25 URLElicitationRequiredError: the user must open a link (upstream authorization) first. */
  UrlElicitationRequired: -32042,
} as const;

export function httpStatusOf(kind: ErrorKind): number {
  switch (kind) {
    case 'parse_error':
    case 'invalid_request':
    case 'invalid_params':
    case 'session_required':
    case 'unsupported_protocol_version':
    case 'unknown_target':
    case 'header_mismatch':
    case 'missing_capability':
    case 'version_unsupported':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
    case 'origin_denied':
    case 'approval_refused':
    // Not 401: that would tell the agent's client to log in to Tollgate again.
    case 'authorization_required':
      return 403;
    case 'method_not_found':
    case 'session_not_found':
      return 404;
    case 'method_not_allowed':
      return 405;
    case 'conflict':
      return 409;
    case 'not_acceptable':
      return 406;
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'upstream_unavailable':
    case 'upstream_bad_response':
      return 502;
    case 'upstream_timeout':
      return 504;
    case 'cancelled':
      return 499;
    case 'rate_limited':
    case 'budget_exceeded':
      return 429;
    case 'over_capacity':
      return 503;
    case 'internal':
      return 500;
  }
}

export function rpcCodeOf(kind: ErrorKind): number {
  switch (kind) {
    case 'parse_error':
      return -32700;
    case 'invalid_request':
    case 'not_acceptable':
    case 'unsupported_media_type':
    case 'payload_too_large':
    case 'method_not_allowed':
    case 'conflict':
    case 'session_required':
    case 'unsupported_protocol_version':
    case 'origin_denied':
      return -32600;
    case 'method_not_found':
      return -32601;
    case 'invalid_params':
      return -32602;
    case 'unknown_target':
      return TollgateCode.UnknownTarget;
    case 'header_mismatch':
      return TollgateCode.HeaderMismatch;
    case 'missing_capability':
      return TollgateCode.MissingCapability;
    case 'version_unsupported':
      return TollgateCode.VersionUnsupported;
    case 'unauthorized':
      return TollgateCode.Unauthorized;
    case 'forbidden':
      return TollgateCode.Forbidden;
    case 'session_not_found':
      return TollgateCode.SessionNotFound;
    case 'upstream_unavailable':
      return TollgateCode.UpstreamUnavailable;
    case 'upstream_timeout':
      return TollgateCode.UpstreamTimeout;
    case 'upstream_bad_response':
      return TollgateCode.UpstreamBadResponse;
    case 'cancelled':
      return TollgateCode.Cancelled;
    case 'rate_limited':
      return TollgateCode.RateLimited;
    case 'budget_exceeded':
      return TollgateCode.BudgetExceeded;
    case 'over_capacity':
      return TollgateCode.OverCapacity;
    case 'approval_refused':
      return TollgateCode.ApprovalRefused;
    case 'authorization_required':
      return TollgateCode.UrlElicitationRequired;
    case 'internal':
      return -32603;
  }
}

export class GatewayError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  get httpStatus(): number {
    return httpStatusOf(this.kind);
  }

  toJsonRpc(id: RequestId | null): JsonRpcError {
    const err = { code: rpcCodeOf(this.kind), message: this.message };
    return errorMessage(id, this.data ? { ...err, data: this.data } : err);
  }
}

/** Anything thrown becomes a GatewayError; unexpected errors hide their detail from the agent. */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('internal', 'internal gateway error');
}
