import { describe, expect, it } from 'vitest';
import { ConnectionCap, type Slot } from './connection-cap.js';
import { GatewayError } from '../errors.js';

describe('ConnectionCap', () => {
  it('refuses an agent over its own cap (429) before the total (503), and a release frees exactly one place', () => {
    const cap = new ConnectionCap('streams', 3, 2);
    const a1 = cap.take('a') as Slot;
    cap.take('a');
    const over = cap.take('a');
    expect(over).toBeInstanceOf(GatewayError);
    expect((over as GatewayError).httpStatus).toBe(429);
    cap.take('b');
    const full = cap.take('c') as GatewayError;
    expect(full.httpStatus).toBe(503);
    expect(full.data?.retryAfterSeconds).toBeGreaterThan(0);
    a1.release();
    a1.release(); // idempotent
    expect(cap.total).toBe(2);
    expect(cap.of('a')).toBe(1);
    expect(cap.take('c')).not.toBeInstanceOf(GatewayError);
  });

  it('force takes a place even over the cap, and gives it back', () => {
    const cap = new ConnectionCap('streams', 1, 1);
    cap.take('a');
    const forced = cap.force('a');
    expect(cap.total).toBe(2);
    forced.release();
    expect(cap.of('a')).toBe(1);
  });
});
