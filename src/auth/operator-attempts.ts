// Failed operator credentials (admin token on the login form or as a Bearer header, metrics token)
// counted per client address: past the bound, an address is refused (429) BEFORE its credential is
// compared, so guessing an admin token (8 characters at least) costs a window per handful of guesses
// rather than one round trip each. Only failures count: an operator who signs in is never held back,
// and another address is not affected (a global bound would let one guesser lock every operator out).
// The address is the client behind `server.trusted_proxies`, an IPv6 /64 counting as one.
import type { Context } from 'hono';
import { addressBucket } from '../oauth/address.js';
import { errorResponse } from '../http/respond.js';

/** Failed credentials an address may present per window. */
export const OPERATOR_MAX_FAILURES = 20;
export const OPERATOR_FAILURE_WINDOW_MS = 15 * 60_000;
/** Addresses remembered at once (the oldest is forgotten first): the map stays bounded. */
const MAX_ADDRESSES = 10_000;

export interface OperatorAttemptsOptions {
  /** The request's client address (clientAddressOf). */
  addressOf(c: Context): string;
  max?: number;
  windowMs?: number;
  now?: () => number;
}

export class OperatorAttempts {
  private readonly failures = new Map<string, { n: number; until: number }>();
  /** Requests already counted: a route asking twice (approver, then page) counts one guess. */
  private readonly counted = new WeakSet<Request>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: OperatorAttemptsOptions) {
    this.max = opts.max ?? OPERATOR_MAX_FAILURES;
    this.windowMs = opts.windowMs ?? OPERATOR_FAILURE_WINDOW_MS;
    this.now = opts.now ?? Date.now;
  }

  /** The 429 to answer when the request's address has failed too often; undefined: go on and check. */
  refused(c: Context): Response | undefined {
    const e = this.failures.get(addressBucket(this.opts.addressOf(c)));
    const now = this.now();
    if (e === undefined || e.until <= now || e.n < this.max) return undefined;
    return errorResponse(c, 'rate_limited', 'too many wrong operator credentials from this address; try again later', {
      'retry-after': String(Math.ceil((e.until - now) / 1000)),
    });
  }

  /** A wrong credential from the request's address. */
  failed(c: Context): void {
    if (this.counted.has(c.req.raw)) return;
    this.counted.add(c.req.raw);
    const address = addressBucket(this.opts.addressOf(c));
    const now = this.now();
    const e = this.failures.get(address);
    if (e !== undefined && e.until > now) {
      e.n++;
      return;
    }
    this.failures.delete(address);
    if (this.failures.size >= MAX_ADDRESSES) {
      for (const [a, v] of this.failures) if (v.until <= now) this.failures.delete(a);
      if (this.failures.size >= MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value as string);
    }
    this.failures.set(address, { n: 1, until: now + this.windowMs });
  }
}
