import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './fast-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
// On a bound, between bounds, below the first, beyond the last, zero.
const VALUES = [0.001, 0.005, 0.0001, 7, 0, 0.1, 0.5];

describe('fast metrics', () => {
  it('a labelled histogram scrapes exactly as prom-client’s', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const h = new Histogram({
      name: 'x_seconds',
      help: 'h',
      labelNames: ['server', 'part'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const f = new FastHistogram('x_seconds', 'h', ['server', 'part'], BUCKETS, ours);
    for (const v of VALUES) {
      h.labels({ server: 'a"b', part: 'total' }).observe(v);
      f.child({ server: 'a"b', part: 'total' }).observe(v);
    }
    h.labels({ server: 'c', part: 'upstream' }).observe(0.02);
    f.child({ server: 'c', part: 'upstream' }).observe(0.02);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('an unlabelled histogram shows zeros before any observation, as prom-client’s does', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    new Histogram({ name: 'w_seconds', help: 'w', buckets: BUCKETS, registers: [theirs] });
    new FastHistogram('w_seconds', 'w', [], BUCKETS, ours);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('a labelled counter scrapes exactly as prom-client’s, and reset empties it', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const c = new Counter({ name: 'n_total', help: 'n', labelNames: ['agent', 'decision'], registers: [theirs] });
    const f = new FastCounter('n_total', 'n', ['agent', 'decision'], ours);
    c.labels({ agent: 'a', decision: 'allowed' }).inc();
    c.labels({ agent: 'a', decision: 'allowed' }).inc(2);
    c.labels({ agent: 'b', decision: 'denied' }).inc();
    f.child({ agent: 'a', decision: 'allowed' }).inc();
    f.child({ agent: 'a', decision: 'allowed' }).inc(2);
    f.child({ agent: 'b', decision: 'denied' }).inc();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    ours.resetMetrics();
    expect(await ours.metrics()).toBe('# HELP n_total n\n# TYPE n_total counter\n');
  });

  it('ignores a non-finite observation instead of throwing into the request path', async () => {
    const ours = new Registry();
    const f = new FastHistogram('y_seconds', 'y', [], BUCKETS, ours);
    f.child({}).observe(Number.NaN);
    expect(await ours.metrics()).toContain('y_seconds_count 0');
  });
});
