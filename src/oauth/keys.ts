// The keys Tollgate signs access tokens with (ES256). One key per rotation period, created by the
// first instance that needs it (set-if-absent in the shared store, so every instance signs with the
// same key); the current and the previous period's keys are published in the JWKS and verify, so a
// token signed just before a rotation stays valid for its whole (short) life.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { OAuthStore } from './store.js';

interface StoredKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

interface LoadedKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export class SigningKeys {
  readonly #loaded = new Map<number, Promise<LoadedKey | undefined>>();

  constructor(
    private readonly store: OAuthStore,
    private readonly rotationMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  #period(at = this.now()): number {
    return Math.floor(at / this.rotationMs);
  }

  /** The key of `period`, creating it when `create` (only the current period's is ever created). */
  #key(period: number, create: boolean): Promise<LoadedKey | undefined> {
    let p = this.#loaded.get(period);
    if (!p) {
      p = this.#load(period, create);
      this.#loaded.set(period, p);
      // A failed or absent load is retried next time; old periods are forgotten.
      void p.then(
        (k) => {
          if (!k) this.#loaded.delete(period);
        },
        () => this.#loaded.delete(period),
      );
      for (const k of this.#loaded.keys()) if (k < period - 2) this.#loaded.delete(k);
    }
    return p;
  }

  async #load(period: number, create: boolean): Promise<LoadedKey | undefined> {
    const name = `key:${period}`;
    let stored = await this.store.get<StoredKey>(name);
    if (!stored && create) {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const kid = `tg-${period}-${randomBytes(6).toString('base64url')}`;
      const fresh: StoredKey = {
        kid,
        privateJwk: await exportJWK(privateKey),
        publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
      };
      // Kept for two more periods: it verifies through the next one.
      await this.store.setIfAbsent(name, fresh, this.rotationMs * 3);
      stored = await this.store.get<StoredKey>(name);
    }
    if (!stored) return undefined;
    return {
      kid: stored.kid,
      privateKey: (await importJWK(stored.privateJwk, 'ES256')) as CryptoKey,
      publicKey: (await importJWK(stored.publicJwk, 'ES256')) as CryptoKey,
      publicJwk: stored.publicJwk,
    };
  }

  /** The key to sign with now. */
  async current(): Promise<{ kid: string; privateKey: CryptoKey }> {
    const k = await this.#key(this.#period(), true);
    if (!k) throw new Error('oauth: no signing key');
    return k;
  }

  /** The public key named by a token's `kid`, if it is the current or the previous period's. */
  async verifying(kid: string | undefined): Promise<CryptoKey | undefined> {
    const m = kid === undefined ? null : /^tg-(\d+)-/.exec(kid);
    if (!m) return undefined;
    const period = Number(m[1]);
    const cur = this.#period();
    if (period !== cur && period !== cur - 1) return undefined;
    const k = await this.#key(period, false);
    return k && k.kid === kid ? k.publicKey : undefined;
  }

  /** The JWKS: the current key and the previous period's, if any. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const cur = this.#period();
    const keys = await Promise.all([this.#key(cur, true), this.#key(cur - 1, false)]);
    return { keys: keys.filter((k): k is LoadedKey => k !== undefined).map((k) => k.publicJwk) };
  }
}
