// Per-address bounds count an IPv6 client by its /64: a host with a /64 cannot take a new address
// for every guess.
import { expect, it } from 'vitest';
import { addressBucket } from './address.js';

it('counts IPv4 by address and IPv6 by /64, however the address is written', () => {
  expect(addressBucket('203.0.113.7')).toBe('203.0.113.7');
  expect(addressBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
  const a = addressBucket('2001:db8:1:2::1');
  expect(a).toBe('2001:db8:1:2::/64');
  for (const same of ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:0:0:0:9', '2001:db8:1:2::1.2.3.4'])
    expect(addressBucket(same), same).toBe(a);
  expect(addressBucket('2001:db8:1:3::1')).not.toBe(a);
  expect(addressBucket('::1')).toBe('0:0:0:0::/64');
  expect(addressBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  expect(addressBucket('unknown')).toBe('unknown');
});

it('counts an IPv4-mapped IPv6 address as its IPv4 address in every spelling (not all IPv4 clients as one /64)', () => {
  for (const spelling of [
    '::ffff:203.0.113.7',
    '::ffff:cb00:7107',
    '0:0:0:0:0:ffff:203.0.113.7',
    '0:0:0:0:0:FFFF:CB00:7107',
  ])
    expect(addressBucket(spelling), spelling).toBe('203.0.113.7');
  expect(addressBucket('::ffff:cb00:7108')).toBe('203.0.113.8');
  // Not mapped: ::ffff itself, and an address with ffff elsewhere.
  expect(addressBucket('::ffff')).toBe('0:0:0:0::/64');
  expect(addressBucket('::1:ffff:cb00:7107')).toBe('0:0:0:0::/64');
});
