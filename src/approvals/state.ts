// The requestState of a 2026 approval round: sealed (HMAC-SHA256) and self-contained, so any
// instance sharing `sessions.seal_keys` can check the retry, and bound to the agent, the tool and
// the SHA-256 of the arguments asked about. `ask`: the agent's user was asked (the retry must carry
// an accepting answer); `ok`: the call was approved and the upstream itself asked for input (the
// retry carries the upstream's own state inside ours, so the approved call goes on without asking
// again). Each state is good once.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'tga1.';
const MAX_STATE_CHARS = 16 * 1024;
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

  seal(s: ApprovalState): string {
    const body = Buffer.from(JSON.stringify({ ...s, n: randomBytes(9).toString('base64url') })).toString('base64url');
    return `${PREFIX}${body}.${mac(this.keys[0] as Buffer, body)}`;
  }

  /**
   * The state, or why not: `invalid` (forged, malformed), `expired`, `spent` (used before). Not
   * spent by opening: the caller spends it (`spend`) once it has checked the state is the call's.
   */
  open(token: string): OpenedState | 'invalid' | 'expired' | 'spent' {
    if (token.length > MAX_STATE_CHARS) return 'invalid';
    const dot = token.lastIndexOf('.');
    const body = token.slice(PREFIX.length, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    if (dot <= PREFIX.length || given.toString('base64url') !== token.slice(dot + 1)) return 'invalid';
    const ok = this.keys.some((k) => {
      const want = Buffer.from(mac(k, body), 'base64url');
      return want.length === given.length && timingSafeEqual(want, given);
    });
    if (!ok) return 'invalid';
    let s: ApprovalState & { n: string };
    try {
      s = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as ApprovalState & { n: string };
    } catch {
      return 'invalid';
    }
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

const mac = (key: Buffer, body: string): string => createHmac('sha256', key).update(body).digest('base64url');
