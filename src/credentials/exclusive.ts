// Work one instance at a time across the instances sharing a vault (a user's token refresh, a
// dynamic client registration): the others wait for its result in the vault rather than repeat it.
// Repeating a refresh presents a refresh token twice, which authorization servers that rotate them
// treat as theft (RFC 9700 §4.14.2) and answer by revoking the user's whole grant.
import { GatewayError } from '../errors.js';
import type { VaultStore } from './vault-store.js';

/** How long the holder may take: a registration and a token request, 15 s each (fetch-json.ts), and the write. */
export const LOCK_MS = 40_000;
/** How often a waiting instance looks at the vault. */
const POLL_MS = 100;

/**
 * `done()` reads the result of the work from the vault (undefined while there is none yet); `work()`
 * makes it. Runs `work` under the lock unless the result is already there; while another instance
 * holds the lock, waits until the result appears or the lock is free (its holder gone: this one
 * takes over), at most a second past LOCK_MS.
 */
export async function exclusively<T>(
  store: VaultStore,
  name: string,
  done: () => Promise<T | undefined>,
  work: () => Promise<T>,
  what: string,
): Promise<T> {
  const deadline = Date.now() + LOCK_MS + 1000;
  for (;;) {
    const release = await store.lock(name, LOCK_MS);
    if (release) {
      try {
        return (await done()) ?? (await work());
      } finally {
        await release().catch(() => undefined);
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
    const theirs = await done();
    if (theirs !== undefined) return theirs;
    if (Date.now() > deadline)
      throw new GatewayError('upstream_unavailable', `${what} by another gateway instance did not finish`);
  }
}
