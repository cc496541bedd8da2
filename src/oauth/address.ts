// The client address that per-address bounds (failed logins, pending logins) count by. An IPv4
// address is itself; an IPv6 address counts as its /64, since one host is routinely given a whole
// /64 and could otherwise take a fresh address for every request. Which address a request came from
// (the TCP peer, or the client behind trusted proxies) is src/http/client-address.ts's; the server
// combines the two in OAuthServer.clientAddress.
import { isIP } from 'node:net';

/** An embedded IPv4 tail (`1.2.3.4`) as the two groups it stands for. */
const v4Groups = (s: string): string[] => {
  const [a = 0, b = 0, c = 0, d = 0] = s.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
};

/** The groups of an IPv6 address, `::` expanded (an embedded IPv4 tail counts as two groups). */
function groups(ip: string): string[] | undefined {
  const [head = '', tail] = ip.split('::');
  const split = (s: string) => (s === '' ? [] : s.split(':').flatMap((g) => (g.includes('.') ? v4Groups(g) : [g])));
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
  const n = groups(bare.toLowerCase())?.map((x) => Number.parseInt(x, 16));
  if (!n) return ip;
  // An IPv4-mapped address however written (`::ffff:102:304`, `0:0:0:0:0:ffff:1.2.3.4`, as some
  // proxies put them in X-Forwarded-For) is its IPv4 client: as a /64 every IPv4 client would share one.
  if (n.slice(0, 5).every((x) => x === 0) && n[5] === 0xffff) {
    const [hi = 0, lo = 0] = n.slice(6);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return `${n
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}
