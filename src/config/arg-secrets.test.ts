import { describe, expect, it } from 'vitest';
import { argSecrets } from './arg-secrets.js';

describe('argSecrets', () => {
  it("takes a secret flag's value, given after it or with =, whatever the flag's spelling", () => {
    const args = ['--api-key', 'k1-value', '--TOKEN=t1-value', '-password', 'p1-value', '--client_secret=s1-value'];
    expect(argSecrets(args, [])).toEqual(['k1-value', 't1-value', 'p1-value', 's1-value']);
  });

  it("takes a URL's password, as given and decoded, and its query values", () => {
    expect(argSecrets(['postgresql://app:p%40ss-word@db/app?sslkey=abc123456789'], [])).toEqual([
      'p@ss-word',
      'abc123456789',
      'p%40ss-word',
    ]);
    expect(argSecrets(['--db=mysql://root:rootpass1@db/x'], [])).toEqual(['rootpass1']);
  });

  it('keeps what `${VAR}`s put in, and leaves other arguments alone', () => {
    expect(
      argSecrets(['--verbose', '--name', 'writer', 'https://example.com/mcp', '--port', '8080'], ['x-from-env']),
    ).toEqual(['x-from-env']);
    expect(argSecrets(['--token'], [])).toEqual([]); // a flag with nothing after it
  });
});
