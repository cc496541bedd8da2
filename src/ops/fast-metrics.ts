// Counters and histograms observed on every call, as plain arithmetic on children made once per
// label set. prom-client's own metrics hash the label object, validate it and allocate on each
// observation (several µs per tools/call, measured); these keep the same exposition: the registry
// formats the values they hand it exactly as it does prom-client's metrics.
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

/** One exported sample, in the shape prom-client's registry formats. */
interface Sample {
  labels: Labels;
  sharedLabels?: Labels;
  value: number;
  metricName?: string;
}

interface Exported {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: Sample[];
  aggregator: 'sum';
}

abstract class FastMetric<Child> {
  protected readonly children = new Map<string, { labels: Labels; child: Child }>();
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // The registry uses name, help, get() at scrape time and reset(); nothing else of the class.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract create(): Child;

  /** The child for these label values (all of labelNames, in that order for the output). */
  child(labels: Labels): Child {
    let key = '';
    for (const n of this.labelNames) key += `${labels[n] ?? ''}\u0000`;
    let entry = this.children.get(key);
    if (!entry) {
      const own: Labels = {};
      for (const n of this.labelNames) own[n] = labels[n] ?? '';
      entry = { labels: own, child: this.create() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  reset(): void {
    this.children.clear();
  }

  /** The label sets seen; an unlabelled metric always has its one (shown as zeros until used). */
  protected entries(): IterableIterator<{ labels: Labels; child: Child }> {
    if (this.labelNames.length === 0) this.child({});
    return this.children.values();
  }

  abstract getForPromString(): Exported;

  /** As prom-client's get(): label sets flattened into each sample. */
  get(): Exported {
    const data = this.getForPromString();
    data.values = data.values.map(({ sharedLabels, ...v }) => ({ ...v, labels: { ...v.labels, ...sharedLabels } }));
    return data;
  }
}

export class FastCounter extends FastMetric<{ value: number; inc(by?: number): void }> {
  readonly type = 'counter';

  protected create(): { value: number; inc(by?: number): void } {
    return {
      value: 0,
      inc(by = 1) {
        this.value += by;
      },
    };
  }

  getForPromString(): Exported {
    const values: Sample[] = [];
    for (const { labels, child } of this.entries()) values.push({ labels, value: child.value });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

interface Buckets {
  /** Per bucket, the observations at or below its bound and above the previous one. */
  counts: number[];
  sum: number;
  count: number;
  observe(v: number): void;
}

export class FastHistogram extends FastMetric<Buckets> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
    registry: Registry,
  ) {
    if (buckets.some((b, i) => i > 0 && b <= (buckets[i - 1] as number)))
      throw new Error(`${name}: buckets must increase`);
    super(name, help, labelNames, registry);
  }

  protected create(): Buckets {
    const bounds = this.buckets;
    return {
      counts: bounds.map(() => 0),
      sum: 0,
      count: 0,
      observe(v: number) {
        if (!Number.isFinite(v)) return;
        this.sum += v;
        this.count++;
        for (let i = 0; i < bounds.length; i++) {
          if (v <= (bounds[i] as number)) {
            (this.counts[i] as number)++;
            return;
          }
        }
      },
    };
  }

  getForPromString(): Exported {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, child } of this.entries()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += child.counts[i] as number;
        values.push({ labels: { le: le as unknown as string }, sharedLabels: labels, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: child.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: labels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
