import { describe, expect, it } from 'vitest';
import { normalizePath, normalizeUri, removeDotSegments } from './normalize.js';

const value = (r: ReturnType<typeof normalizeUri>): string => (r.ok ? r.value : `REFUSED: ${r.reason}`);

describe('normalizeUri', () => {
  // Every spelling of "public/../secret/b.txt" an agent might try: each must come out as the same
  // normal form (which `file:///public/*` does not match) or be refused.
  const traversals = [
    'file:///public/../secret/b.txt',
    'file:///public/%2e%2e/secret/b.txt',
    'file:///public/%2E%2E/secret/b.txt',
    'file:///public/.%2e/secret/b.txt',
    'file:///public/%2e./secret/b.txt',
    'file:///public/./../secret/b.txt',
    'file:///public/a/../../secret/b.txt',
    'file:///public/%2e/%2e%2e/secret/b.txt',
    'FILE:///public/../secret/b.txt',
    'file:///public/../secret/%62.txt',
    'file:///public/../../../secret/b.txt',
    'file:///public/..',
  ];
  it.each(traversals)('%s leaves /public', (uri) => {
    const r = normalizeUri(uri);
    expect(r.ok).toBe(true);
    expect(value(r).startsWith('file:///public/')).toBe(false);
  });

  const refused = [
    ['file:///public/..%2fsecret/b.txt', 'encoded "/"'],
    ['file:///public/..%2Fsecret/b.txt', 'encoded "/"'],
    ['file:///public/..\\secret\\b.txt', 'backslash'],
    ['file:///public/..%5csecret/b.txt', 'encoded "\\"'],
    ['file:///public/..%5Csecret/b.txt', 'encoded "\\"'],
    ['file:///public/%252e%252e/secret/b.txt', 'double percent-encoding'],
    ['file:///public/a.txt%00.png', 'NUL'],
    ['file:///public/a.txt\u0000', 'control'],
    ['file:///public/..;/secret/b.txt', 'parameters'],
    ['file:///public/%2e%2e;x/secret/b.txt', 'parameters'],
    ['file:///public/\uff0e\uff0e/secret/b.txt', 'look-alike'],
    ['file:///public/%EF%BC%8E%EF%BC%8E/secret/b.txt', 'look-alike'],
    ['file:///public/..\uff0fsecret/b.txt', 'look-alike'],
    ['file:///public/%c0%ae%c0%ae/secret/b.txt', 'not UTF-8'],
    ['file:///public/%zz', 'malformed'],
    ['file:///public/%2', 'malformed'],
    ['/public/a.txt', 'no scheme'],
  ] as const;
  it.each(refused)('refuses %s', (uri, why) => {
    expect(value(normalizeUri(uri))).toContain(why);
  });

  it('keeps what is already normal, and normalises case and unreserved escapes', () => {
    expect(value(normalizeUri('file:///public/a.txt'))).toBe('file:///public/a.txt');
    expect(value(normalizeUri('mem://a'))).toBe('mem://a');
    expect(value(normalizeUri('HTTPS://Example.COM/A%2db%7e?q=%2e%3d#F%41'))).toBe(
      'https://example.com/A-b~?q=.%3D#FA',
    );
    expect(value(normalizeUri('file:///public/caf%c3%a9.txt'))).toBe('file:///public/caf%C3%A9.txt');
    expect(value(normalizeUri('file:///public/My Notes.txt'))).toBe('file:///public/My Notes.txt');
    expect(value(normalizeUri('urn:isbn:0451450523'))).toBe('urn:isbn:0451450523');
    expect(value(normalizeUri('s3://Bucket@HOST/Key'))).toBe('s3://Bucket@host/Key');
    // the query is not a path: an encoded slash there is data
    expect(value(normalizeUri('db://x/t?where=a%2Fb'))).toBe('db://x/t?where=a%2Fb');
  });

  it('removes dot segments as RFC 3986 §5.2.4 does', () => {
    expect(removeDotSegments('/a/b/c/./../../g')).toBe('/a/g');
    expect(removeDotSegments('mid/content=5/../6')).toBe('mid/6');
    expect(removeDotSegments('/a/b/..')).toBe('/a/');
    expect(removeDotSegments('/..')).toBe('/');
    expect(removeDotSegments('../a')).toBe('a');
    expect(removeDotSegments('')).toBe('');
  });
});

describe('normalizePath', () => {
  it('resolves dot segments and repeated slashes', () => {
    expect(value(normalizePath('/srv/docs/../../etc/passwd'))).toBe('/etc/passwd');
    expect(value(normalizePath('/srv/docs//./a.txt'))).toBe('/srv/docs/a.txt');
    expect(value(normalizePath('srv/docs/../../../etc'))).toBe('../etc');
    expect(value(normalizePath('/srv/docs/100%.txt'))).toBe('/srv/docs/100%.txt');
  });
  it.each([
    ['/srv/docs/..\\..\\etc/passwd', 'backslash'],
    ['/srv/docs/%2e%2e/%2e%2e/etc/passwd', 'percent-escape'],
    ['/srv/docs/a\u0000.txt', 'control'],
    ['/srv/docs/\uff0e\uff0e/\uff0e\uff0e/etc/passwd', 'look-alike'],
  ])('refuses %s', (p, why) => {
    expect(value(normalizePath(p))).toContain(why);
  });
});
