import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearerOf, operatorTokens } from './operator-tokens.js';

const line = (t: string) => `sha256:${createHash('sha256').update(t).digest('hex')}`;

describe('operatorTokens', () => {
  it('matches plaintext and sha256: tokens by index, refusing everything else', () => {
    const t = operatorTokens(['first-token-123'], [line('hashed-token-456'), 'sha256:not-hex']);
    expect(t.digests).toHaveLength(2); // the malformed hash line is ignored
    expect(t.match('first-token-123')).toBe(0);
    expect(t.match('hashed-token-456')).toBe(1);
    for (const wrong of [
      undefined,
      '',
      'first-token-12',
      'first-token-1234',
      line('hashed-token-456'),
      'x'.repeat(5000),
    ])
      expect(t.match(wrong)).toBe(-1);
  });

  it('reads a Bearer header', () => {
    expect(bearerOf('Bearer  abc ')).toBe('abc');
    expect(bearerOf('Basic abc')).toBeUndefined();
    expect(bearerOf(undefined)).toBeUndefined();
  });
});
