import { describe, expect, it } from 'vitest';
import { aggregateView } from './view.js';
import type { Upstream } from '../upstream/upstream.js';

const fake = (name: string): Upstream =>
  ({ name, catalog: { tools: [], prompts: [], resources: [], resourceTemplates: [] } }) as unknown as Upstream;

describe('aggregate view naming', () => {
  const a = fake('git');
  const b = fake('git-hub');
  it('namespaces names and resolves the longest matching server', () => {
    const v = aggregateView([a, b], '-', true);
    expect(v.name(b, 'list')).toBe('git-hub-list');
    expect(v.resolveName('git-hub-list')).toEqual({ upstream: b, native: 'list' });
    expect(v.resolveName('git-log')).toEqual({ upstream: a, native: 'log' });
    expect(v.resolveName('other-x')).toBeUndefined();
  });
  it('prefixes URIs as <server>+<uri>, still a valid URI, and routes them back', () => {
    const v = aggregateView([a, b], '__', true);
    const uri = v.uri(b, 'file:///etc/hosts');
    expect(uri).toBe('git-hub+file:///etc/hosts');
    expect(new URL(uri).protocol).toBe('git-hub+file:');
    expect(v.resolveUri(uri)).toEqual({ upstream: b, native: 'file:///etc/hosts' });
    expect(v.resolveUri('file:///etc/hosts')).toBeUndefined();
  });
});
