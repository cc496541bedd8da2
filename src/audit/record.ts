// The audit record: one per decision-bearing MCP request and one per LLM call.
//
// Shape: FLAT JSON with dotted keys, one line per record (JSON Lines). Keys follow OpenTelemetry
// semantic conventions where one exists (mcp.*, jsonrpc.*, gen_ai.*, rpc.*, service.*) and use
// `tollgate.*` otherwise. Flat keys are OTel log attributes as they are (export needs no mapping) and
// stay greppable; with jq: `jq -r '."gen_ai.tool.name"'`. No key is both a leaf and a prefix of another,
// so the flat form converts to a nested one without clashes.
//
// Every key below is always written, in this order; `null` means "does not apply" (so every line has
// the same columns). The writer appends `prev` — the hex SHA-256 of the previous line (see writer.ts).
import { randomFillSync } from 'node:crypto';
import { sha256Hex } from '../sha256.js';
import { resultJson } from '../mcp/result-json.js';

export type AuditDecision = 'allowed' | 'denied' | 'rate_limited' | 'budget_exceeded' | 'error' | ApprovalDecision;

/** Human approval (src/approvals): asked, then one of the outcomes. `tollgate audit --decision 'approval_*'`. */
export type ApprovalDecision =
  | 'approval_requested'
  | 'approval_approved'
  | 'approval_denied'
  | 'approval_timed_out'
  | 'approval_withdrawn'
  | 'approval_void';
export type AuditOutcome = 'ok' | 'is_error' | 'jsonrpc_error' | 'timeout' | 'input_required';

export const AUDIT_DECISIONS: readonly AuditDecision[] = [
  'allowed',
  'denied',
  'rate_limited',
  'budget_exceeded',
  'error',
  'approval_requested',
  'approval_approved',
  'approval_denied',
  'approval_timed_out',
  'approval_withdrawn',
  'approval_void',
];
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['ok', 'is_error', 'jsonrpc_error', 'timeout', 'input_required'];

/** JSON that the audit log can hold (arguments after redaction). */
export type AuditJson = string | number | boolean | null | AuditJson[] | { [key: string]: AuditJson };

export interface AuditRecord {
  /** ISO 8601 UTC: when the gateway received the request (or started the LLM call). */
  timestamp: string;
  /** Unique, time-sortable (ULID). */
  'tollgate.record.id': string;
  /** The gateway process that wrote the record. */
  'service.instance.id': string;
  /** `execute_tool` for tools/call; `chat`, `text_completion`, … for LLM calls; else null. */
  'gen_ai.operation.name': string | null;
  /** MCP method (`tools/call`, `resources/read`, …); null for LLM calls. */
  'mcp.method.name': string | null;
  /** The agent's JSON-RPC request id (not the gateway's upstream id). */
  'jsonrpc.request.id': string | number | null;
  /** The calling agent as authentication named it. */
  'gen_ai.agent.id': string;
  /** `api_key` | `jwt` | `anonymous`. */
  'tollgate.auth.method': string;
  /** `oauth`: the user who logged in (token subject) and the OAuth client acting for them; else null. */
  'tollgate.auth.user': string | null;
  'tollgate.auth.client': string | null;
  'mcp.session.id': string | null;
  /** `clientInfo` from initialize. */
  'tollgate.client.name': string | null;
  'tollgate.client.version': string | null;
  /** Upstream server name from the config, and which replica served it. */
  'tollgate.upstream.name': string | null;
  'tollgate.upstream.replica': string | null;
  /** Names as the agent sent them (namespaced on /mcp). */
  'gen_ai.tool.name': string | null;
  'gen_ai.prompt.name': string | null;
  'mcp.resource.uri': string | null;
  /** The same target as the upstream knows it (native tool/prompt name or URI). */
  'tollgate.target.native': string | null;
  /** Tool/prompt arguments (or other params), redacted and truncated. */
  'tollgate.request.arguments': AuditJson | null;
  /** LLM calls: the model asked for. */
  'gen_ai.request.model': string | null;
  'tollgate.decision': AuditDecision;
  /** Why (e.g. "tool not in allow-list"), and the policy rule or limit that decided. */
  'tollgate.decision_reason': string | null;
  'tollgate.decision_rule': string | null;
  /** What the agent got back. */
  'tollgate.outcome': AuditOutcome;
  /** JSON-RPC error code, as a string (OTel), when outcome is `jsonrpc_error`. */
  'rpc.response.status_code': string | null;
  /** Size and SHA-256 of the full result as received (before any truncation); null if none. */
  'tollgate.result.bytes': number | null;
  'tollgate.result.sha256': string | null;
  /** Tokens charged against the agent's budget for this request. */
  'tollgate.tokens.charged': number;
  'gen_ai.usage.input_tokens': number | null;
  'gen_ai.usage.output_tokens': number | null;
  /** LLM calls: estimated cost in USD from the configured prices (null when no price is set). */
  'tollgate.cost.usd': number | null;
  /** Gateway receipt to response, and the part spent waiting on the upstream (null if not forwarded). */
  'tollgate.latency.total_ms': number;
  'tollgate.latency.upstream_ms': number | null;
}

/** A record as read back from the log: with its chain field. */
export type AuditLine = AuditRecord & { prev: string };

/** `prev` of the first record of a log. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields a caller must supply; everything else defaults to null (tokens to 0). */
export type AuditRecordInput = Partial<AuditRecord> &
  Pick<
    AuditRecord,
    | 'service.instance.id'
    | 'gen_ai.agent.id'
    | 'tollgate.auth.method'
    | 'tollgate.decision'
    | 'tollgate.outcome'
    | 'tollgate.latency.total_ms'
  >;

const TEMPLATE: AuditRecord = {
  timestamp: '',
  'tollgate.record.id': '',
  'service.instance.id': '',
  'gen_ai.operation.name': null,
  'mcp.method.name': null,
  'jsonrpc.request.id': null,
  'gen_ai.agent.id': '',
  'tollgate.auth.method': '',
  'tollgate.auth.user': null,
  'tollgate.auth.client': null,
  'mcp.session.id': null,
  'tollgate.client.name': null,
  'tollgate.client.version': null,
  'tollgate.upstream.name': null,
  'tollgate.upstream.replica': null,
  'gen_ai.tool.name': null,
  'gen_ai.prompt.name': null,
  'mcp.resource.uri': null,
  'tollgate.target.native': null,
  'tollgate.request.arguments': null,
  'gen_ai.request.model': null,
  'tollgate.decision': 'error',
  'tollgate.decision_reason': null,
  'tollgate.decision_rule': null,
  'tollgate.outcome': 'ok',
  'rpc.response.status_code': null,
  'tollgate.result.bytes': null,
  'tollgate.result.sha256': null,
  'tollgate.tokens.charged': 0,
  'gen_ai.usage.input_tokens': null,
  'gen_ai.usage.output_tokens': null,
  'tollgate.cost.usd': null,
  'tollgate.latency.total_ms': 0,
  'tollgate.latency.upstream_ms': null,
};

/** Every record key, in line order (without `prev`). */
export const AUDIT_FIELDS = Object.keys(TEMPLATE) as (keyof AuditRecord)[];

/** A complete record in canonical key order; fills id and timestamp when absent. */
export function createAuditRecord(input: AuditRecordInput, now: number = Date.now()): AuditRecord {
  const out: AuditRecord = { ...TEMPLATE };
  for (const key of AUDIT_FIELDS) {
    const v = input[key];
    if (v !== undefined) (out as unknown as Record<string, unknown>)[key] = v;
  }
  if (!out.timestamp) out.timestamp = new Date(now).toISOString();
  if (!out['tollgate.record.id']) out['tollgate.record.id'] = newRecordId(now);
  if (out['gen_ai.operation.name'] === null && out['mcp.method.name'] === 'tools/call')
    out['gen_ai.operation.name'] = 'execute_tool';
  return out;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** ULID: 48-bit ms time + 80 random bits, Crockford base32, 26 chars; sorts by time. */
export function newRecordId(now: number = Date.now()): string {
  let time = '';
  let t = Math.max(0, Math.floor(now));
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  // Random bytes come from a pool: one randomFillSync per 256 ids, not one call per record.
  if (poolAt + 16 > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[POOL[poolAt + i]! & 31]!;
  poolAt += 16;
  return time + rand;
}

const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;

/** Size and SHA-256 of a result: raw bytes/text as received, or a value (hashed as its JSON). */
export function resultDigest(result: unknown): { bytes: number; sha256: string } {
  if (result instanceof Uint8Array) return { bytes: result.byteLength, sha256: sha256Hex(result) };
  // Text is hashed as it is (no copy into a Buffer first): this runs on every relayed result.
  // An object's text is remembered: the agent's JSON answer embeds the same text (src/mcp/result-json.ts).
  const text =
    typeof result === 'string'
      ? result
      : typeof result === 'object' && result !== null
        ? resultJson(result)
        : (JSON.stringify(result) ?? 'null');
  return { bytes: Buffer.byteLength(text, 'utf8'), sha256: sha256Hex(text) };
}
