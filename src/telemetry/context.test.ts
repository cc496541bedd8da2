import { describe, expect, it } from 'vitest';
import { carrierOf, hr, remoteParent } from './context.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('remoteParent', () => {
  it('accepts a well-formed traceparent, with its sampled flag and tracestate', () => {
    const p = remoteParent(TP, 'a=1, b=2');
    expect(p).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 });
    expect(p?.isRemote).toBe(true);
    expect(p?.traceState?.serialize()).toBe('a=1,b=2');
    expect(remoteParent(TP.replace(/01$/, '00'), undefined)?.traceFlags).toBe(0);
  });

  it('refuses what the W3C spec calls invalid, and anything that is not a string', () => {
    for (const bad of [
      TP.toUpperCase(),
      TP.replace('4bf92f3577b34da6a3ce929d0e0e4736', '0'.repeat(32)),
      TP.replace('00f067aa0ba902b7', '0'.repeat(16)),
      `ff${TP.slice(2)}`,
      `${TP}-extra`,
      TP.slice(1),
      'x'.repeat(10_000),
      42,
      { traceparent: TP },
      undefined,
    ])
      expect(remoteParent(bad, undefined)).toBeUndefined();
  });

  it('drops a tracestate that is too long, has too many members or bad characters (keeps the parent)', () => {
    for (const bad of [
      `a=${'x'.repeat(600)}`,
      Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','),
      'A=1',
      'a=1\n',
      7,
    ])
      expect(remoteParent(TP, bad)?.traceState).toBeUndefined();
  });

  it('writes our span back as traceparent (and tracestate when there is one)', () => {
    const p = remoteParent(TP, 'a=1')!;
    expect(carrierOf({ ...p, spanId: '1111111111111111' })).toEqual({
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01',
      tracestate: 'a=1',
    });
    expect(carrierOf({ ...p, traceState: undefined, traceFlags: 0 }).traceparent.endsWith('-00')).toBe(true);
  });
});

describe('hr', () => {
  it('keeps sub-millisecond order and lands on the wall clock', () => {
    const a = hr(1000.0001);
    const b = hr(1000.0002);
    expect(b[0] > a[0] || (b[0] === a[0] && b[1] > a[1])).toBe(true);
    const now = hr(performance.now());
    expect(Math.abs(now[0] * 1000 + now[1] / 1e6 - Date.now())).toBeLessThan(1000);
    expect(now[1]).toBeLessThan(1e9);
  });
});
