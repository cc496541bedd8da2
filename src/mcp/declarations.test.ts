import { describe, expect, it } from 'vitest';
import {
  MAX_DECLARATION_BYTES,
  SEALED_CAPABILITY_BYTES,
  declarationProblem,
  keptClientInfo,
  sealedCapabilities,
} from './declarations.js';

describe('client declarations', () => {
  it('refuses a declaration over the cap or not an object, naming it and its size', () => {
    expect(declarationProblem('clientInfo', { name: 'x' })).toBeUndefined();
    expect(declarationProblem('clientInfo', undefined)).toBeUndefined();
    expect(declarationProblem('capabilities', [])).toBe('capabilities must be an object');
    expect(declarationProblem('clientInfo', { name: 'x'.repeat(MAX_DECLARATION_BYTES) })).toBe(
      `clientInfo is ${MAX_DECLARATION_BYTES + 11} bytes serialized; at most ${MAX_DECLARATION_BYTES} are accepted`,
    );
  });

  it('keeps only the name and version of clientInfo, bounded even when made of control characters', () => {
    expect(keptClientInfo({ name: 'c', version: '1', title: 'T', icons: [{ src: 'data:…' }] })).toEqual({
      name: 'c',
      version: '1',
    });
    const kept = keptClientInfo({ name: '\u0001'.repeat(5000), version: 'v'.repeat(5000) });
    expect(JSON.stringify(kept).length).toBeLessThan(400);
  });

  it('seals small capabilities whole, and large ones reduced within the budget, known ones first', () => {
    const small = { roots: { listChanged: true }, sampling: {} };
    expect(sealedCapabilities(small)).toBe(small);
    const big: Record<string, unknown> = { experimental: { blob: 'b'.repeat(6000) } };
    for (let i = 0; i < 200; i++) big[`x${i}`] = {};
    big.elicitation = { form: {}, url: {} };
    big.roots = { listChanged: true };
    const sealed = sealedCapabilities(big);
    expect(JSON.stringify(sealed).length).toBeLessThanOrEqual(SEALED_CAPABILITY_BYTES);
    expect(sealed).toMatchObject({
      roots: { listChanged: true },
      elicitation: { form: {}, url: {} },
      experimental: {},
    });
  });
});
