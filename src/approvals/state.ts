// The requestState of a 2026 approval round: sealed (HMAC-SHA256) and self-contained, so any
// instance sharing `sessions.seal_keys` can check the retry, and bound to the agent, the tool and
// the SHA-256 of the arguments asked about. `ask`: the agent's user was asked (the retry must carry
// an accepting answer); `ok`: the call was approved and the upstream itself asked for input (the
// retry carries the upstream's own state inside ours, so the approved call goes on without asking
// again). Each state is good once.
//
// Layout: `tga1.<fields>.<mac>`, or `tga1.<fields>.<mac>.<inner>` when it carries a state of the
// layer below. The inner state is appended as it is, not inside the base64url JSON of our fields:
// JSON escaping and base64url grew it by a third or more, so an upstream state of ~12 000
// characters no longer fitted the bound and the approved retry was refused as invalid. The MAC
// covers `<fields>.<inner>` (fields are base64url, with no dot, so the two forms cannot collide).
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'tga1.';
/**
 * The longest state of the layer below (an upstream's requestState) an approval carries. README
 * (Human approval of tool calls) documents it; a longer one is refused when it would be sealed.
 */
export const MAX_CARRIED_STATE_CHARS = 256 * 1024;
/** Our own fields (agent, tool, rule, hashes), base64url: far below this. */
const MAX_FIELDS_CHARS = 16 * 1024;
const MAX_STATE_CHARS = PREFIX.length + MAX_FIELDS_CHARS + 64 + MAX_CARRIED_STATE_CHARS;
const MAX_SPENT = 10_000;

export interface ApprovalState {
  k: 'ask' | 'ok';
  /** Approval id, agent, tool (namespaced), argument hash, expiry (ms), the rule's name. */
  id: string;
  a: string;
  t: string;
  h: string;
  e: number;
  r: string;
  /** A state of the layer below (a 2025 upstream's input round), restored on the retry. */
  i?: string;
}

/** An opened state: with its nonce, which the shared store spends once across instances. */
export type OpenedState = ApprovalState & { n: string };

/** Keys from `sessions.seal_keys` (newest first), or one random key for this process. */
export function stateKeys(sealKeysBase64: readonly string[]): Buffer[] {
  if (sealKeysBase64.length === 0) return [randomBytes(32)];
  return sealKeysBase64.map((k) =>
    Buffer.from(hkdfSync('sha256', Buffer.from(k, 'base64'), Buffer.alloc(0), 'tollgate-approval-state-v1', 32)),
  );
}

export const isApprovalState = (v: unknown): v is string => typeof v === 'string' && v.startsWith(PREFIX);

export class StateSealer {
  /** States already used, until they expire (this instance). */
  private readonly spent = new Map<string, number>();

  constructor(
    private readonly keys: readonly Buffer[],
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `n`: the state's nonce (newNonce()), which a shared store issues and spends (store.ts). Throws
   * on a carried state longer than MAX_CARRIED_STATE_CHARS: callers check first and say why.
   */
  seal(s: ApprovalState, n: string = newNonce()): string {
    const { i, ...fields } = s;
    if (i !== undefined && i.length > MAX_CARRIED_STATE_CHARS) throw new RangeError('carried state too long');
    const body = Buffer.from(JSON.stringify({ ...fields, n })).toString('base64url');
    if (body.length > MAX_FIELDS_CHARS) throw new RangeError('approval state fields too long');
    const signed = i === undefined ? body : `${body}.${i}`;
    const tag = mac(this.keys[0] as Buffer, signed);
    return i === undefined ? `${PREFIX}${body}.${tag}` : `${PREFIX}${body}.${tag}.${i}`;
  }

  /**
   * The state, or why not: `invalid` (forged, malformed), `expired`, `spent` (used before). Not
   * spent by opening: the caller spends it (`spend`) once it has checked the state is the call's.
   */
  open(token: string): OpenedState | 'invalid' | 'expired' | 'spent' {
    if (token.length > MAX_STATE_CHARS || !token.startsWith(PREFIX)) return 'invalid';
    const dot = token.indexOf('.', PREFIX.length);
    const end = dot < 0 ? -1 : token.indexOf('.', dot + 1);
    const body = token.slice(PREFIX.length, dot);
    const tag = end < 0 ? token.slice(dot + 1) : token.slice(dot + 1, end);
    const inner = end < 0 ? undefined : token.slice(end + 1);
    const given = Buffer.from(tag, 'base64url');
    if (dot <= PREFIX.length || body.length > MAX_FIELDS_CHARS || given.toString('base64url') !== tag) return 'invalid';
    const signed = inner === undefined ? body : `${body}.${inner}`;
    const ok = this.keys.some((k) => {
      const want = Buffer.from(mac(k, signed), 'base64url');
      return want.length === given.length && timingSafeEqual(want, given);
    });
    if (!ok) return 'invalid';
    let s: OpenedState;
    try {
      s = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as OpenedState;
    } catch {
      return 'invalid';
    }
    // The carried state is the appended part (one sealed before it moved out of the fields has it
    // among them, signed all the same).
    if (inner !== undefined) s.i = inner;
    const now = this.now();
    if (s.e <= now) return 'expired';
    for (const [n, until] of this.spent) if (until <= now) this.spent.delete(n);
    if (this.spent.has(s.n)) return 'spent';
    return s;
  }

  /** Marks an opened state used on this instance; false when it already was (a concurrent retry). */
  spend(s: OpenedState): boolean {
    if (this.spent.has(s.n)) return false;
    if (this.spent.size >= MAX_SPENT) this.spent.delete(this.spent.keys().next().value as string);
    this.spent.set(s.n, s.e);
    return true;
  }
}

/** A fresh nonce: what makes each state single-use. */
export const newNonce = (): string => randomBytes(9).toString('base64url');

const mac = (key: Buffer, body: string): string => createHmac('sha256', key).update(body).digest('base64url');
