import { describe, expect, it } from 'vitest';
import { SubscriptionHolds } from './subscription-holds.js';
import type { UpstreamSession } from './session.js';

const session = () => ({}) as UpstreamSession;

describe('SubscriptionHolds', () => {
  it('subscribes with the first holder and unsubscribes with the last', () => {
    const h = new SubscriptionHolds();
    const s = session();
    expect(h.hold(s, 'a', 'alice')).toBe(true);
    expect(h.hold(s, 'a', 'bob')).toBe(false);
    expect(h.hold(s, 'a', 'alice')).toBe(false); // twice is once
    expect(h.release(s, 'a', 'alice')).toBe(false); // bob still holds it
    expect(h.release(s, 'a', 'alice')).toBe(false);
    expect(h.release(s, 'a', 'bob')).toBe(true);
    expect(h.hold(s, 'a', 'carol')).toBe(true);
  });

  it('keeps sessions apart, and releases everything of a holder that is gone', () => {
    const h = new SubscriptionHolds();
    const [s1, s2] = [session(), session()];
    h.hold(s1, 'a', 'alice');
    h.hold(s2, 'a', 'alice');
    h.hold(s1, 'b', 'alice');
    h.hold(s1, 'b', 'bob');
    expect(h.releaseAll('alice').map((x) => [x.session === s1 ? 's1' : 's2', x.uri])).toEqual([
      ['s1', 'a'],
      ['s2', 'a'],
    ]);
    expect(h.release(s1, 'b', 'bob')).toBe(true);
  });
});
