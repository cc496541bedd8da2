// The address a request came from, for per-address bounds (OAuth registrations, pending and failed
// logins). Without trusted proxies it is the TCP peer. Behind a reverse proxy or load balancer the
// peer is the proxy for every client, so when the peer is one of `server.trusted_proxies` the client
// is read from X-Forwarded-For: from the right, past the hops that are themselves trusted proxies,
// the first one that is not. Each entry read that way was appended by a trusted hop; entries further
// left were written by the client and are never looked at (the left-most one is whatever the client
// says). RFC 7239 `Forwarded` is not read: a proxy that sets only X-Forwarded-For passes a client's
// own `Forwarded` through untouched, and honouring it would let every request name a fresh address.
import { isIP } from 'node:net';
import type { Context } from 'hono';
import type { CidrSet } from './cidr.js';
import { headerOf, incomingOf } from './node-io.js';

const portOk = (port: string | undefined) => port === undefined || Number(port) <= 65535;

/** One X-Forwarded-For entry as an address: `1.2.3.4`, `1.2.3.4:port`, `2001:db8::1`, `[2001:db8::1]:port`. */
function forwardedAddress(entry: string): string | undefined {
  const s = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  if (bracketed) return bracketed[1] && isIP(bracketed[1]) === 6 && portOk(bracketed[2]) ? bracketed[1] : undefined;
  const v4port = /^(\d+\.\d+\.\d+\.\d+):(\d{1,5})$/.exec(s);
  if (v4port) return v4port[1] && isIP(v4port[1]) === 4 && portOk(v4port[2]) ? v4port[1] : undefined;
  return isIP(s) === 0 ? undefined : s;
}

/**
 * The client's address, given the TCP peer and the X-Forwarded-For header. The peer when it is not a
 * trusted proxy, when there is no header, or when an entry the walk reaches is not an address
 * (a broken or hostile chain is no better than the peer); the farthest hop when every one is trusted.
 */
export function resolveClientAddress(peer: string, forwardedFor: string | undefined, trusted: CidrSet): string {
  if (forwardedFor === undefined || !trusted.has(peer)) return peer;
  const hops = forwardedFor.split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const ip = forwardedAddress(hops[i] ?? '');
    if (ip === undefined) return peer;
    if (!trusted.has(ip)) return ip;
    client = ip;
  }
  return client;
}

/** The TCP peer's address ('unknown' without a Node socket, as under app.request in tests). */
export const peerAddress = (c: Context): string => incomingOf(c)?.socket?.remoteAddress ?? 'unknown';

/** A request's client address under the given trusted proxies (an empty set: the TCP peer). */
export const clientAddressOf =
  (trusted: CidrSet) =>
  (c: Context): string => {
    const peer = peerAddress(c);
    return trusted.size === 0 ? peer : resolveClientAddress(peer, headerOf(c, 'x-forwarded-for'), trusted);
  };
