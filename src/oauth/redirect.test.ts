import { describe, expect, it } from 'vitest';
import { redirectUriMatches, redirectUriProblem } from './redirect.js';
import { isPrivateAddress } from './safe-fetch.js';

describe('redirect URIs', () => {
  it.each([
    ['https://app.example.com/cb', undefined],
    ['http://127.0.0.1:3000/cb', undefined],
    ['http://localhost/cb', undefined],
    ['cursor://anysphere.cursor-retrieval/oauth/callback', undefined],
    ['http://app.example.com/cb', 'loopback'],
    ['javascript:alert(1)', 'not allowed'],
    ['https://app.example.com/cb#x', 'fragment'],
    ['https://user:pw@app.example.com/cb', 'user info'],
  ])('%s can be registered: %s', (uri, problem) => {
    const p = redirectUriProblem(uri);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(problem);
  });

  it('matches exactly, except a loopback port', () => {
    const reg = ['https://app.example.com/cb', 'http://127.0.0.1:8000/cb'];
    expect(redirectUriMatches(reg, 'https://app.example.com/cb')).toBe(true);
    expect(redirectUriMatches(reg, 'https://app.example.com:444/cb')).toBe(false);
    expect(redirectUriMatches(reg, 'https://APP.example.com/cb/')).toBe(false);
    expect(redirectUriMatches(reg, 'http://127.0.0.1:51234/cb')).toBe(true);
    expect(redirectUriMatches(reg, 'http://127.0.0.1:51234/other')).toBe(false);
    expect(redirectUriMatches(reg, 'http://localhost:8000/cb')).toBe(false);
  });
});

describe('private addresses (metadata document fetches)', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.31.0.1', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['::', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['::ffff:127.0.0.1', true],
    ['8.8.8.8', false],
    ['2606:4700::1111', false],
  ])('%s private: %s', (addr, priv) => expect(isPrivateAddress(addr)).toBe(priv));
});
