// The token vault: upstream tokens per (upstream, user), AES-256-GCM encrypted at rest with a key id,
// so keys rotate (the first key encrypts, every key decrypts, `rotate()` re-encrypts). Each record's
// additional data names its upstream and user: a ciphertext copied under another user's key in the
// store does not open. The same keys seal connection links and OAuth `state`.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { VaultKeyConfig } from './runtime.js';
import type { VaultStore } from './vault-store.js';
import { GatewayError } from '../errors.js';

/** One user's connection to one upstream. Never logged, never audited, never leaves for another upstream. */
export interface Connection {
  accessToken: string;
  refreshToken?: string | undefined;
  /** ms since epoch, when the AS said (expires_in). */
  expiresAt?: number | undefined;
  /**
   * The access token's lifetime as issued (expires_in, ms): a short one is refreshed ahead by half
   * of it rather than by the whole refresh_before (refresh-due.ts). Absent in older records.
   */
  lifetimeMs?: number | undefined;
  scope?: string | undefined;
  /** The AS issuer the tokens belong to (refresh and revocation go there only). */
  issuer: string;
  connectedAt: number;
  refreshedAt?: number | undefined;
}

/** What operators and users may see of a connection: never a token. */
export interface ConnectionInfo {
  upstream: string;
  agent: string;
  connectedAt: number;
}

interface Envelope {
  k: string;
  iv: string;
  ct: string;
  at: number;
}

const SEP = '\u0000';

export class VaultKeys {
  private readonly keys: { id: string; key: Buffer }[];

  constructor(keys: readonly VaultKeyConfig[]) {
    this.keys = keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') }));
    for (const k of this.keys) if (k.key.length !== 32) throw new Error(`vault key ${k.id} is not 32 bytes`);
    if (new Set(this.keys.map((k) => k.id)).size !== this.keys.length) throw new Error('vault key ids repeat');
  }

  get size(): number {
    return this.keys.length;
  }

  get currentId(): string {
    const k = this.keys[0];
    if (!k) throw new Error('no vault key configured (credentials.vault.keys)');
    return k.id;
  }

  encrypt(plain: string, aad: string): { k: string; iv: string; ct: string } {
    const k = this.keys[0];
    if (!k) throw new Error('no vault key configured (credentials.vault.keys)');
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', k.key, iv);
    c.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final(), c.getAuthTag()]);
    return { k: k.id, iv: iv.toString('base64url'), ct: ct.toString('base64url') };
  }

  /** undefined: unknown key id, tampered, or sealed for other additional data. */
  decrypt(e: { k: string; iv: string; ct: string }, aad: string): string | undefined {
    const k = this.keys.find((x) => x.id === e.k);
    if (!k) return undefined;
    try {
      const iv = Buffer.from(e.iv, 'base64url');
      const all = Buffer.from(e.ct, 'base64url');
      if (iv.length !== 12 || all.length < 16) return undefined;
      const d = createDecipheriv('aes-256-gcm', k.key, iv);
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(all.subarray(all.length - 16));
      return Buffer.concat([d.update(all.subarray(0, all.length - 16)), d.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  /** A compact URL-safe token: `kid.iv.ct`, readable only with `purpose`. */
  seal(value: unknown, purpose: string): string {
    const e = this.encrypt(JSON.stringify(value), purpose);
    return `${e.k}.${e.iv}.${e.ct}`;
  }

  open(token: string, purpose: string): unknown {
    if (token.length > 8192) return undefined;
    const [k, iv, ct, extra] = token.split('.');
    if (!k || !iv || !ct || extra !== undefined) return undefined;
    const plain = this.decrypt({ k, iv, ct }, purpose);
    if (plain === undefined) return undefined;
    try {
      return JSON.parse(plain) as unknown;
    } catch {
      return undefined;
    }
  }
}

export class Vault {
  constructor(
    readonly keys: VaultKeys,
    readonly store: VaultStore,
  ) {}

  private static key(upstream: string, agent: string): string {
    return `conn:${upstream}${SEP}${agent}`;
  }

  async put(upstream: string, agent: string, c: Connection): Promise<void> {
    const id = Vault.key(upstream, agent);
    const env: Envelope = { ...this.keys.encrypt(JSON.stringify(c), id), at: c.connectedAt };
    await this.store.set(id, JSON.stringify(env));
  }

  /**
   * Stores `next` only while the record still holds `was`'s access token: a refresh must not bring
   * back a connection revoked (or replace one made again) while it was on its way.
   */
  async replace(upstream: string, agent: string, was: Connection, next: Connection): Promise<boolean> {
    const id = Vault.key(upstream, agent);
    const raw = await this.store.get(id);
    if (raw === undefined || this.openRecord(id, raw)?.accessToken !== was.accessToken) return false;
    const env: Envelope = { ...this.keys.encrypt(JSON.stringify(next), id), at: next.connectedAt };
    return this.store.replace(id, raw, JSON.stringify(env));
  }

  async get(upstream: string, agent: string): Promise<Connection | undefined> {
    const id = Vault.key(upstream, agent);
    const raw = await this.read(id);
    return raw === undefined ? undefined : this.openRecord(id, raw);
  }

  /**
   * A record read on a request's way to its upstream: a store that cannot answer (Redis down) is
   * the upstream being unavailable for now (-32050, retry later), not a fault of the gateway (-32603).
   */
  private async read(id: string): Promise<string | undefined> {
    try {
      return await this.store.get(id);
    } catch (err) {
      const why = err instanceof Error ? err.message.slice(0, 200) : 'unknown error';
      throw new GatewayError('upstream_unavailable', `the token vault is unavailable (${why}): try again later`);
    }
  }

  private openRecord(id: string, raw: string): Connection | undefined {
    try {
      const env = JSON.parse(raw) as Envelope;
      const plain = this.keys.decrypt(env, id);
      return plain === undefined ? undefined : (JSON.parse(plain) as Connection);
    } catch {
      return undefined;
    }
  }

  delete(upstream: string, agent: string): Promise<boolean> {
    return this.store.delete(Vault.key(upstream, agent));
  }

  /** Connections (no tokens), optionally of one upstream or one agent. */
  async list(filter: { upstream?: string; agent?: string } = {}): Promise<ConnectionInfo[]> {
    const prefix = filter.upstream === undefined ? 'conn:' : `conn:${filter.upstream}${SEP}`;
    const out: ConnectionInfo[] = [];
    for (const [k, raw] of await this.store.list(prefix)) {
      const [upstream = '', agent = ''] = k.slice('conn:'.length).split(SEP);
      if (filter.agent !== undefined && agent !== filter.agent) continue;
      let at = 0;
      try {
        at = Number((JSON.parse(raw) as Envelope).at) || 0;
      } catch {
        /* unreadable: listed without a time */
      }
      out.push({ upstream, agent, connectedAt: at });
    }
    return out.sort((a, b) => a.connectedAt - b.connectedAt || a.agent.localeCompare(b.agent));
  }

  /** Any sealed value kept beside the connections (e.g. a dynamically registered client). */
  async putSecret(name: string, value: unknown): Promise<void> {
    const id = `secret:${name}`;
    await this.store.set(id, JSON.stringify({ ...this.keys.encrypt(JSON.stringify(value), id), at: Date.now() }));
  }

  async getSecret(name: string): Promise<unknown> {
    const id = `secret:${name}`;
    const raw = await this.read(id);
    if (raw === undefined) return undefined;
    try {
      const plain = this.keys.decrypt(JSON.parse(raw) as Envelope, id);
      return plain === undefined ? undefined : (JSON.parse(plain) as unknown);
    } catch {
      return undefined;
    }
  }

  /**
   * Re-encrypts every record not under the current key (key rotation). Records no configured key
   * opens are left as they are and counted.
   */
  async rotate(): Promise<{ rotated: number; unreadable: number }> {
    let rotated = 0;
    let unreadable = 0;
    const current = this.keys.currentId;
    for (const prefix of ['conn:', 'secret:']) {
      for (const [id, raw] of await this.store.list(prefix)) {
        let env: Envelope;
        try {
          env = JSON.parse(raw) as Envelope;
        } catch {
          unreadable++;
          continue;
        }
        if (env.k === current) continue;
        const plain = this.keys.decrypt(env, id);
        if (plain === undefined) {
          unreadable++;
          continue;
        }
        await this.store.set(id, JSON.stringify({ ...this.keys.encrypt(plain, id), at: env.at }));
        rotated++;
      }
    }
    return { rotated, unreadable };
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
