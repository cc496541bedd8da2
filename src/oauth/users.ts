// Local users: password hashes are scrypt (node:crypto), `scrypt$<N>$<r>$<p>$<salt>$<hash>` in
// base64url. Verification costs the same for an unknown name as for a wrong password.
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import type { OAuthUser } from './schema.js';

const N = 16384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, KEY_BYTES, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

interface Parsed {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(hash: string): Parsed {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(hash);
  if (!m) throw new Error('oauth: a password_hash is scrypt$N$r$p$salt$hash (tollgate user add)');
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (n < 1024 || n > 1 << 20 || (n & (n - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16)
    throw new Error('oauth: password_hash has out-of-range scrypt parameters');
  return { n, r, p, salt: Buffer.from(m[4] ?? '', 'base64url'), key: Buffer.from(m[5] ?? '', 'base64url') };
}

function derive(password: string, h: Parsed): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, h.salt, h.key.length, { N: h.n, r: h.r, p: h.p, maxmem: 256 * h.n * h.r + 1024 * 1024 }, (e, k) =>
      e ? reject(e) : resolve(k),
    ),
  );
}

export interface LocalUser {
  name: string;
  groups: readonly string[];
}

export class LocalUsers {
  readonly #users = new Map<string, { user: LocalUser; hash: Parsed }>();
  readonly #dummy: Parsed;

  constructor(users: readonly OAuthUser[]) {
    for (const u of users) {
      const hash = parseHash(u.passwordHash ?? hashPassword(u.password ?? ''));
      this.#users.set(u.name, { user: { name: u.name, groups: u.groups }, hash });
    }
    // What an unknown name is checked against: only its parameters matter (one derivation, as for a
    // known name), so random bytes rather than a hash of something (an scrypt that cost ~80 ms of CPU
    // at every start and reload).
    this.#dummy = { n: N, r: R, p: P, salt: randomBytes(16), key: randomBytes(KEY_BYTES) };
  }

  get size(): number {
    return this.#users.size;
  }

  /** The configured user names. */
  names(): string[] {
    return [...this.#users.keys()];
  }

  /** The configured user `name`, if any (a grant's user is looked up again at each refresh). */
  get(name: string): LocalUser | undefined {
    return this.#users.get(name)?.user;
  }

  /** The user when name and password match; undefined otherwise (same cost either way). */
  async verify(name: string, password: string): Promise<LocalUser | undefined> {
    const entry = this.#users.get(name);
    const hash = entry?.hash ?? this.#dummy;
    const key = await derive(password.slice(0, 1024), hash);
    const ok = key.length === hash.key.length && timingSafeEqual(key, hash.key);
    return ok && entry ? entry.user : undefined;
  }
}
