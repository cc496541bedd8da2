// The client address behind trusted proxies: X-Forwarded-For read from the right past trusted hops,
// never the client's own left-most entries, and the TCP peer whenever the chain cannot be trusted.
import { describe, expect, it } from 'vitest';
import { CidrSet, parseCidr } from './cidr.js';
import { resolveClientAddress } from './client-address.js';

const proxies = new CidrSet(['10.0.0.0/8', '192.0.2.10', '2001:db8:ffff::/48']);
const resolve = (peer: string, xff: string | undefined, trusted = proxies) => resolveClientAddress(peer, xff, trusted);

describe('trusted proxy ranges', () => {
  it('accepts addresses and CIDR ranges of both families, and says what is wrong with the rest', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('192.0.2.1')).toEqual({ address: '192.0.2.1', prefix: 32, family: 'ipv4' });
    expect(parseCidr('2001:db8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    expect(parseCidr('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    expect(parseCidr('10.0.0.0/33')).toMatch(/prefix length must be 0 to 32/);
    expect(parseCidr('2001:db8::/129')).toMatch(/0 to 128/);
    expect(parseCidr('10.0.0.0/8/1')).toMatch(/not an address or CIDR/);
    expect(parseCidr('10.0.0.0/')).toMatch(/prefix length/);
    expect(parseCidr('10.0.0.0/x')).toMatch(/prefix length/);
    expect(parseCidr('proxy.internal')).toMatch(/not an IPv4 or IPv6/);
    expect(parseCidr('10.0.0.256')).toMatch(/not an IPv4 or IPv6/);
    expect(parseCidr('::ffff:10.0.0.1')).toMatch(/IPv4 form/);
    expect(() => new CidrSet(['10.0.0.0/8', 'nope'])).toThrow(/nope/);
  });

  it('matches IPv4, IPv4-mapped IPv6 and IPv6 peers', () => {
    expect(proxies.has('10.1.2.3')).toBe(true);
    expect(proxies.has('::ffff:10.1.2.3')).toBe(true);
    expect(proxies.has('192.0.2.10')).toBe(true);
    expect(proxies.has('192.0.2.11')).toBe(false);
    expect(proxies.has('2001:db8:ffff:1::7')).toBe(true);
    expect(proxies.has('2001:db8:fffe::7')).toBe(false);
    expect(proxies.has('unknown')).toBe(false);
    expect(new CidrSet([]).has('10.1.2.3')).toBe(false);
  });
});

describe('client address', () => {
  it('is the peer when the peer is not a trusted proxy (the header is anyone’s)', () => {
    expect(resolve('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    expect(resolve('10.0.0.1', '198.51.100.1', new CidrSet([]))).toBe('10.0.0.1');
  });

  it('is the peer when a trusted proxy sent no X-Forwarded-For', () => {
    expect(resolve('10.0.0.1', undefined)).toBe('10.0.0.1');
  });

  it('is the right-most entry a trusted proxy appended', () => {
    expect(resolve('10.0.0.1', '198.51.100.1')).toBe('198.51.100.1');
    expect(resolve('::ffff:10.0.0.1', ' 198.51.100.1 ')).toBe('198.51.100.1');
  });

  it('walks past trusted hops over several proxies', () => {
    expect(resolve('10.0.0.1', '198.51.100.1, 192.0.2.10, 10.9.9.9')).toBe('198.51.100.1');
  });

  it('never takes the entries a client wrote itself (left of the first untrusted one)', () => {
    // The client sent "X-Forwarded-For: 1.1.1.1, 10.0.0.5"; the proxy appended the real address.
    expect(resolve('10.0.0.1', '1.1.1.1, 10.0.0.5, 198.51.100.1')).toBe('198.51.100.1');
    // A client naming a trusted address for itself gains nothing past its real, untrusted one.
    expect(resolve('10.0.0.1', '10.0.0.5, 198.51.100.1')).toBe('198.51.100.1');
  });

  it('is the farthest hop when every hop is a trusted proxy', () => {
    expect(resolve('10.0.0.1', '10.0.0.7, 192.0.2.10')).toBe('10.0.0.7');
  });

  it('reads IPv6 entries, bare or bracketed with a port, and IPv4 entries with a port', () => {
    expect(resolve('2001:db8:ffff::1', '2001:db8:1:2::5')).toBe('2001:db8:1:2::5');
    expect(resolve('10.0.0.1', '[2001:db8:1:2::5]:4711')).toBe('2001:db8:1:2::5');
    expect(resolve('10.0.0.1', '[2001:db8:1:2::5], [2001:db8:ffff::9]')).toBe('2001:db8:1:2::5');
    expect(resolve('10.0.0.1', '198.51.100.1:4711')).toBe('198.51.100.1');
  });

  it('falls back to the peer when an entry the walk reaches is not an address', () => {
    for (const bad of [
      '',
      ' ',
      'unknown',
      '198.51.100.1,',
      '198.51.100.1, , 10.0.0.5',
      'garbage, 10.0.0.5',
      '[1.2.3.4]',
      '1.2.3.4:99999',
      '_hidden',
    ]) {
      expect(resolve('10.0.0.1', bad), JSON.stringify(bad)).toBe('10.0.0.1');
    }
    // Garbage left of the first untrusted entry is never read.
    expect(resolve('10.0.0.1', 'garbage, 198.51.100.1')).toBe('198.51.100.1');
  });
});
