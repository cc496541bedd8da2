import { describe, expect, it } from 'vitest';
import { MAX_CARRIED_STATE_CHARS, StateSealer, isApprovalState, stateKeys, type ApprovalState } from './state.js';

const s: ApprovalState = { k: 'ask', id: 'apr_x', a: 'agent', t: 'x__y', h: 'a'.repeat(64), e: 2_000, r: 'rule' };

describe('approval requestState', () => {
  it('opens what it sealed, once', () => {
    const sealer = new StateSealer(stateKeys([]), () => 1_000);
    const token = sealer.seal(s);
    expect(isApprovalState(token)).toBe(true);
    const opened = sealer.open(token);
    expect(opened).toMatchObject(s);
    expect(sealer.open(token)).toMatchObject(s); // opening alone does not spend it
    expect(sealer.spend(opened as Exclude<typeof opened, string>)).toBe(true);
    expect(sealer.open(token)).toBe('spent'); // a replay is refused
    expect(sealer.spend(opened as Exclude<typeof opened, string>)).toBe(false);
  });

  it('refuses a forged or altered state, and one past its expiry', () => {
    const sealer = new StateSealer(stateKeys([]), () => 1_000);
    const token = sealer.seal(s);
    const body = token.slice(5, token.lastIndexOf('.'));
    const forged = JSON.parse(Buffer.from(body, 'base64url').toString());
    forged.h = 'b'.repeat(64);
    const altered = `tga1.${Buffer.from(JSON.stringify(forged)).toString('base64url')}${token.slice(token.lastIndexOf('.'))}`;
    expect(sealer.open(altered)).toBe('invalid');
    expect(sealer.open(`${token}x`)).toBe('invalid');
    expect(sealer.open('tga1.')).toBe('invalid');
    expect(sealer.open(`tga1.${'A'.repeat(20_000)}`)).toBe('invalid');
    expect(new StateSealer(stateKeys([]), () => 1_000).open(token)).toBe('invalid'); // another process's random key
    expect(new StateSealer(stateKeys([]), () => 3_000).open(sealer.seal(s))).toBe('invalid');
    const late = new StateSealer(stateKeys([]), () => 1_000);
    const t2 = late.seal(s);
    const later = new StateSealer((late as unknown as { keys: Buffer[] }).keys, () => 5_000);
    expect(later.open(t2)).toBe('expired');
  });

  it("instances sharing seal keys open each other's states (rotation: an older key still opens)", () => {
    const k1 = Buffer.alloc(32, 1).toString('base64');
    const k2 = Buffer.alloc(32, 2).toString('base64');
    const old = new StateSealer(stateKeys([k1]), () => 1_000);
    const rotated = new StateSealer(stateKeys([k2, k1]), () => 1_000);
    expect(rotated.open(old.seal(s))).toMatchObject(s);
  });

  it('carries a layer-below state as it is, up to the bound; an altered one is refused', () => {
    const sealer = new StateSealer(stateKeys([]), () => 1_000);
    const inner = `${'x.y'.repeat(20_000)}"\u00e9`; // dots, quotes, non-ASCII: nothing grows or breaks
    const token = sealer.seal({ ...s, i: inner });
    expect(token.length).toBeLessThan(inner.length + 1_000);
    expect(sealer.open(token)).toMatchObject({ ...s, i: inner });
    expect(sealer.open(`${token.slice(0, -1)}z`)).toBe('invalid');
    expect(sealer.open(token.slice(0, token.lastIndexOf('.') - 1))).toBe('invalid'); // cut inside the inner state
    const atMost = 'a'.repeat(MAX_CARRIED_STATE_CHARS);
    expect(sealer.open(sealer.seal({ ...s, i: atMost }))).toMatchObject({ i: atMost });
    expect(() => sealer.seal({ ...s, i: `${atMost}a` })).toThrow(/too long/);
  });
});
