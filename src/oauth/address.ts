// The client address that per-address bounds (failed logins, pending logins) count by. An IPv4
// address is itself; an IPv6 address counts as its /64, since one host is routinely given a whole
// /64 and could otherwise take a fresh address for every request. Which address a request came from
// (the TCP peer, or the client behind trusted proxies) is src/http/client-address.ts's; the server
// combines the two in OAuthServer.clientAddress.
import { isIP } from 'node:net';

/** The groups of an IPv6 address, `::` expanded (an embedded IPv4 tail counts as two groups). */
function groups(ip: string): string[] | undefined {
  const [head = '', tail] = ip.split('::');
  const split = (s: string) => (s === '' ? [] : s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const h = split(head);
  if (tail === undefined) return h.length === 8 ? h : undefined;
  const t = split(tail);
  return [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
}

export function addressBucket(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  const bare = ip.split('%')[0] ?? ip; // a zone index names an interface, not another host
  if (isIP(bare) !== 6) return ip;
  const g = groups(bare.toLowerCase());
  if (!g) return ip;
  return `${g
    .slice(0, 4)
    .map((x) => Number.parseInt(x, 16).toString(16))
    .join(':')}::/64`;
}
