// Address ranges written as in config files ("10.0.0.0/8", "2001:db8::/32", or one address), and a
// set of them to test addresses against. Separate from client-address.ts so the config schema can
// check entries at load time without importing request handling.
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** One range, or why it is not one (a message for the config error). */
export function parseCidr(entry: string): Cidr | string {
  const [address = '', prefixText, extra] = entry.trim().split('/');
  if (extra !== undefined) return `"${entry}" is not an address or CIDR range`;
  const version = isIP(address);
  if (version === 0) return `"${entry}" is not an IPv4 or IPv6 address or CIDR range`;
  // A mapped form would compare as IPv6 here and silently miss the IPv4 peers it was meant for.
  if (version === 6 && /^::ffff:\d/i.test(address)) return `"${entry}": write the IPv4 form, not ::ffff:…`;
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family: version === 4 ? 'ipv4' : 'ipv6' };
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) return `"${entry}": the prefix length must be 0 to ${max}`;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A set of ranges; `has` answers for IPv4, IPv6 and IPv4-mapped IPv6 addresses alike. */
export class CidrSet {
  readonly #list = new BlockList();
  readonly size: number;

  /** Throws on an entry that is not a range (the config schema has refused those already). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const r = parseCidr(entry);
      if (typeof r === 'string') throw new Error(r);
      this.#list.addSubnet(r.address, r.prefix, r.family);
    }
    this.size = entries.length;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const bare = ip.split('%')[0] ?? ip; // a zone index names an interface, not another host
    const version = isIP(bare);
    return version !== 0 && this.#list.check(bare, version === 4 ? 'ipv4' : 'ipv6');
  }
}
