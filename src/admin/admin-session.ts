// The admin page's cookie: an opaque, expiring session, never the admin token itself (a cookie is
// stored by the browser, sent on every /admin request and shows in proxies' and debuggers' views).
//
//   v1.<expiry ms, base36>.<token tag>.<nonce>.<HMAC-SHA256 of the rest>
//
// The tag is an HMAC of the digest of the admin token that signed in: a session is valid only
// while that token is still configured (remove the token and restart: its sessions end). The key is
// derived (HKDF) from `sessions.seal_keys`, so every instance behind one balancer accepts the
// cookie; without seal keys it is random per process (sessions end on restart). Logout remembers
// the session as ended on this instance until it would have expired.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export const ADMIN_SESSION_TTL_MS = 12 * 3600 * 1000;
const MAX_LOGGED_OUT = 10_000;
const FORMAT = /^v1\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

/** Admin session keys: one per seal key (newest first), or one random key for this process. */
export function adminSessionKeys(sealKeysBase64: readonly string[]): Buffer[] {
  if (sealKeysBase64.length === 0) return [randomBytes(32)];
  return sealKeysBase64.map((k) =>
    Buffer.from(hkdfSync('sha256', Buffer.from(k, 'base64'), Buffer.alloc(0), 'tollgate-admin-session-v1', 32)),
  );
}

export interface AdminSessionOptions {
  /** Signing keys, newest first: the first signs, all verify. */
  keys: readonly Buffer[];
  /** SHA-256 digests of the admin tokens configured now. */
  tokenDigests: readonly Buffer[];
  ttlMs?: number;
  now?: () => number;
}

export class AdminSessions {
  private readonly now: () => number;
  private readonly ttlMs: number;
  /** Per key: the tags of the tokens configured now. */
  private readonly tags: readonly Set<string>[];
  /** Sessions ended by logout (their MACs), with their expiry. */
  private readonly loggedOut = new Map<string, number>();

  constructor(private readonly opts: AdminSessionOptions) {
    if (opts.keys.length === 0) throw new Error('admin sessions need a key');
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? ADMIN_SESSION_TTL_MS;
    this.tags = opts.keys.map((k) => new Set(opts.tokenDigests.map((d) => tagOf(k, d))));
  }

  get ttlSeconds(): number {
    return Math.floor(this.ttlMs / 1000);
  }

  /** A new session for the token at `tokenIndex` of `tokenDigests`. */
  issue(tokenIndex: number): string {
    const key = this.opts.keys[0] as Buffer;
    const digest = this.opts.tokenDigests[tokenIndex];
    if (!digest) throw new Error('admin session for an unknown token');
    const body = `v1.${(this.now() + this.ttlMs).toString(36)}.${tagOf(key, digest)}.${randomBytes(12).toString('base64url')}`;
    return `${body}.${macOf(key, body)}`;
  }

  /** Whether a cookie value is a genuine, unexpired session of a token that is still configured. */
  valid(cookie: string | undefined): boolean {
    if (cookie === undefined || cookie.length > 128) return false;
    const m = FORMAT.exec(cookie);
    if (!m) return false;
    const body = cookie.slice(0, cookie.lastIndexOf('.'));
    const mac = Buffer.from(m[4] as string, 'base64url');
    // One spelling per MAC: the last base64url character carries unused bits, and a variant of a
    // logged-out cookie would otherwise pass the MAC check but miss the logout list.
    if (mac.toString('base64url') !== m[4]) return false;
    const now = this.now();
    if (Number.parseInt(m[1] as string, 36) <= now) return false;
    for (let i = 0; i < this.opts.keys.length; i++) {
      const expected = Buffer.from(macOf(this.opts.keys[i] as Buffer, body), 'base64url');
      if (!timingSafeEqual(mac, expected)) continue;
      if (!this.tags[i]?.has(m[2] as string)) return false; // its token was removed
      const out = this.loggedOut.get(m[4] as string);
      return out === undefined || out <= now;
    }
    return false;
  }

  /** Logout: the session is refused here from now on, until it would have expired anyway. */
  end(cookie: string | undefined): void {
    const m = cookie === undefined ? null : FORMAT.exec(cookie);
    if (!m || !this.valid(cookie)) return;
    const now = this.now();
    for (const [mac, until] of this.loggedOut) if (until <= now) this.loggedOut.delete(mac);
    if (this.loggedOut.size >= MAX_LOGGED_OUT) this.loggedOut.delete(this.loggedOut.keys().next().value as string);
    this.loggedOut.set(m[4] as string, Number.parseInt(m[1] as string, 36));
  }
}

const tagOf = (key: Buffer, tokenDigest: Buffer): string =>
  createHmac('sha256', key).update('token:').update(tokenDigest).digest('base64url').slice(0, 16);

const macOf = (key: Buffer, body: string): string =>
  createHmac('sha256', key).update('session:').update(body).digest('base64url');
