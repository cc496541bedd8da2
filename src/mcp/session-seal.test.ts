import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionSealer, type SessionClaims } from './session-seal.js';

const claims: SessionClaims = {
  agent: 'alice',
  view: '',
  protocolVersion: '2025-11-25',
  capabilities: { roots: {} },
  clientInfo: { name: 'c' },
  createdAt: Date.now(),
};

describe('SessionSealer', () => {
  it('round-trips the claims, and the id is header-safe', () => {
    const s = SessionSealer.ephemeral(60_000);
    const id = s.seal(claims);
    expect(id).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(s.open(id)).toEqual(claims);
    expect(s.seal(claims)).not.toBe(id); // fresh IV each time
  });

  it('refuses tampered, foreign, malformed and expired ids', () => {
    const s = SessionSealer.ephemeral(60_000);
    const id = s.seal(claims);
    const flipped = id.slice(0, -2) + (id.at(-2) === 'A' ? 'B' : 'A') + id.at(-1);
    expect(s.open(flipped)).toBeUndefined();
    expect(SessionSealer.ephemeral(60_000).open(id)).toBeUndefined();
    for (const bad of ['', '.', 'x', 'abc.def', `${id.split('.')[0]}.`, '../../etc'])
      expect(s.open(bad)).toBeUndefined();
    expect(s.open(s.seal({ ...claims, createdAt: Date.now() - 120_000 }))).toBeUndefined();
  });

  it('opens ids sealed with an older key after a rotation; new ids use the newest key', () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const before = new SessionSealer([oldKey], 60_000).seal(claims);
    const rotated = new SessionSealer([newKey, oldKey], 60_000);
    expect(rotated.open(before)?.agent).toBe('alice');
    expect(new SessionSealer([newKey], 60_000).open(rotated.seal(claims))?.agent).toBe('alice');
    expect(new SessionSealer([newKey], 60_000).open(before)).toBeUndefined(); // old key retired
  });
});
