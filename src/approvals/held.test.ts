import { describe, expect, it } from 'vitest';
import { HeldCalls, SHUTDOWN_REASON, type HeldSlot } from './held.js';

describe('held calls', () => {
  it('takes places at once, so a burst in one turn cannot pass the caps; a released place is free again', () => {
    const held = new HeldCalls(3, 2);
    const burst = [held.take('a'), held.take('a'), held.take('a'), held.take('b'), held.take('c')];
    expect(burst.map((s) => typeof s)).toEqual(['object', 'object', 'string', 'object', 'string']);
    expect(burst[2]).toMatch(/agent a/);
    expect(burst[4]).toMatch(/this gateway/);
    (burst[0] as HeldSlot).release();
    (burst[0] as HeldSlot).release(); // twice is once
    expect(held.size).toBe(2);
    expect(typeof held.take('a')).toBe('object');
  });

  it('at shutdown ends every held call as void, and any that registers later at once; then takes none', async () => {
    const held = new HeldCalls(10, 10);
    const ended: string[] = [];
    const early = held.take('a') as HeldSlot;
    early.onVoid((why) => void ended.push(`early: ${why}`));
    const late = held.take('a') as HeldSlot; // its wait is not set up yet
    await held.voidAll();
    expect(ended).toEqual([`early: ${SHUTDOWN_REASON}`]);
    late.onVoid((why) => void ended.push(`late: ${why}`));
    expect(ended).toEqual([`early: ${SHUTDOWN_REASON}`, `late: ${SHUTDOWN_REASON}`]);
    expect(held.take('b')).toMatch(/shutting down/);
  });
});
