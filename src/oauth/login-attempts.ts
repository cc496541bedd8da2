// Failed password logins are bounded per user name and per client address (login_attempts), so
// guessing passwords is slow from one place and for one account.
import { createHash } from 'node:crypto';
import type { OAuthServer } from './server.js';

const digest = (s: string): string => createHash('sha256').update(s).digest('base64url');

/** A password check that holds its place in both failure counters. */
export interface Attempt {
  userKey: string;
  ipKey: string;
}

/**
 * Each attempt takes its place in both counters before the (slow) password check: counted after
 * it, guesses sent at once would all pass the bound. A refused attempt gives its places back
 * (undefined), a successful one its place in the address's counter (`succeeded`: the bounds count
 * failures).
 */
export async function takeAttempt(as: OAuthServer, username: string, ip: string): Promise<Attempt | undefined> {
  const { max, maxPerAddress, windowMs } = as.config.loginAttempts;
  const [userKey, ipKey] = [`login-fail:u:${digest(username)}`, `login-fail:ip:${ip}`];
  const [byUser, byAddress] = await Promise.all([as.store.incr(userKey, windowMs), as.store.incr(ipKey, windowMs)]);
  if (byUser > max || byAddress > maxPerAddress) {
    await Promise.all([as.store.incr(userKey, windowMs, -1), as.store.incr(ipKey, windowMs, -1)]);
    return undefined;
  }
  return { userKey, ipKey };
}

export async function succeeded(as: OAuthServer, a: Attempt): Promise<void> {
  await Promise.all([as.store.del(a.userKey), as.store.incr(a.ipKey, as.config.loginAttempts.windowMs, -1)]);
}
