// Which addresses the OAuth client may connect to for an upstream's authorization server. The AS and
// its endpoints are named by the upstream (untrusted): they must be public addresses, except the
// private address the upstream itself is configured at and the hosts the operator allows
// (`auth.allow_private_hosts`), so a hostile
// upstream cannot aim the gateway's requests (token, registration, revocation: POSTs to a path of
// its choosing) at a cloud metadata service or an internal admin port. The check is made on the
// addresses the connection actually uses (the lookup itself is filtered: no DNS rebinding).
import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';
import { isPrivateAddress } from '../oauth/safe-fetch.js';

export interface Reach {
  /** Host names (lower case, IPv6 without brackets) that may be private addresses. */
  privateHosts: readonly string[];
}

export const hostOf = (u: URL): string => u.hostname.replace(/^\[|\]$/g, '').toLowerCase();

/**
 * The reach of an upstream's AS: the operator's `allow_private_hosts`, and the upstream's own host
 * when the operator wrote a private address there (an IP literal or localhost). A DNS name is not
 * exempt by itself: whoever runs the upstream answers for it and could point it inside later.
 */
export function upstreamReach(upstream: URL, allowPrivateHosts: readonly string[]): Reach {
  const own = hostOf(upstream);
  const literal = own === 'localhost' || (isIP(own) !== 0 && isPrivateAddress(own));
  return {
    privateHosts: [...(literal ? [own] : []), ...allowPrivateHosts.map((h) => h.replace(/^\[|\]$/g, '').toLowerCase())],
  };
}

export class ReachRefused extends Error {}

/** Throws ReachRefused when the URL's host is a private address literal that is not allowed. */
export function checkLiteral(u: URL, reach: Reach): void {
  const host = hostOf(u);
  if (isIP(host) && !reach.privateHosts.includes(host) && isPrivateAddress(host))
    throw new ReachRefused(`${host} is a private address; list it in auth.allow_private_hosts if it is yours`);
}

/** A dispatcher for one request whose DNS answers must be public (unless the host is allowed). */
export function reachAgent(reach: Reach): Agent {
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as { address: string; family: number }[];
      const allowed = reach.privateHosts.includes(hostname.toLowerCase());
      const bad = !allowed && list.find((a) => isPrivateAddress(a.address));
      if (bad)
        return callback(
          new ReachRefused(
            `${hostname} resolves to a private address (${bad.address}); list it in auth.allow_private_hosts if it is yours`,
          ),
          '',
          0,
        );
      if (options.all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      const first = list[0];
      if (!first) return callback(new ReachRefused(`${hostname} has no address`), '', 0);
      callback(null, first.address, first.family);
    });
  };
  return new Agent({ connect: { lookup } });
}
