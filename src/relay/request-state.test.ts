import { describe, expect, it } from 'vitest';
import { RequestStateSealer } from './request-state.js';

describe('RequestStateSealer', () => {
  const sealer = new RequestStateSealer();
  const round = { flow: 'f1', round: 2, agent: 'alice', exp: Date.now() + 60_000 };

  it('opens what it sealed, for the same agent before expiry', () => {
    expect(sealer.open(sealer.seal(round), 'alice')).toEqual(round);
  });

  it('refuses tampering, another agent, expiry and another process key', () => {
    const state = sealer.seal(round);
    expect(sealer.open(`${state}-TAMPERED`, 'alice')).toBe('requestState failed verification');
    expect(sealer.open(`x${state}`, 'alice')).toBe('requestState failed verification');
    expect(sealer.open('no-dot', 'alice')).toBe('requestState failed verification');
    expect(sealer.open(state, 'bob')).toBe('requestState belongs to another agent');
    expect(sealer.open(state, 'alice', round.exp)).toBe('requestState has expired');
    expect(new RequestStateSealer().open(state, 'alice')).toBe('requestState failed verification');
  });
});
