import { describe, expect, it } from 'vitest';
import { outputCeiling } from './ceiling.js';
import { promptText } from './dialect.js';

describe('outputCeiling', () => {
  it('multiplies tokens per choice by n or best_of, whichever is larger', () => {
    expect(outputCeiling('chat', { max_tokens: 100, n: 50 }, 4096)).toEqual({
      ok: true,
      choices: 50,
      perChoice: 100,
      tokens: 5000,
    });
    expect(outputCeiling('chat', { max_tokens: 100, n: 2, best_of: 5 }, 4096)).toMatchObject({ tokens: 500 });
  });

  it('takes the largest ceiling given, and default_max_tokens × n when none is', () => {
    expect(outputCeiling('chat', { max_completion_tokens: 10, max_tokens: 300 }, 4096)).toMatchObject({ tokens: 300 });
    expect(outputCeiling('chat', { max_output_tokens: 70 }, 4096)).toMatchObject({ tokens: 70 });
    expect(outputCeiling('chat', { n: 3, max_tokens: null }, 1000)).toMatchObject({ tokens: 3000 });
    expect(outputCeiling('chat', {}, 1000)).toMatchObject({ choices: 1, tokens: 1000 });
  });

  it('reserves no output for embeddings', () => {
    expect(outputCeiling('embeddings', { n: 9, max_tokens: 9 }, 1000)).toMatchObject({ tokens: 0 });
  });

  it('refuses values an API would reject, which also keeps the arithmetic safe', () => {
    for (const [body, message] of [
      [{ n: 129 }, 'n must be an integer from 1 to 128'],
      [{ n: -1 }, 'n must be an integer from 1 to 128'],
      [{ best_of: 1.5 }, 'best_of must be an integer from 1 to 128'],
      [{ max_tokens: '100' }, 'max_tokens must be an integer from 0 to 100000000'],
      [
        { max_completion_tokens: Number.MAX_SAFE_INTEGER },
        'max_completion_tokens must be an integer from 0 to 100000000',
      ],
    ] as const)
      expect(outputCeiling('chat', body, 1000)).toEqual({ ok: false, message });
  });
});

describe('promptText for embeddings', () => {
  it('counts token-id inputs by their length and keeps every string', () => {
    expect(promptText('openai', 'embeddings', { input: [1, 2, 3] })).toEqual({ parts: [], messages: 0, tokenIds: 3 });
    expect(promptText('openai', 'embeddings', { input: [[1, 2], [3, 4, 5], []] })).toMatchObject({ tokenIds: 5 });
    expect(promptText('openai', 'embeddings', { input: ['a', 'b'] })).toEqual({
      parts: ['a', 'b'],
      messages: 0,
      tokenIds: 0,
    });
  });
});
