import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { YOUNG_GENERATION_FLAG, youngGenerationHint } from './gc-tuning.js';

const file = (rel: string) => readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8');

describe('young generation size', () => {
  it('every documented way to start the gateway passes the flag to node', () => {
    const start = (JSON.parse(file('package.json')) as { scripts: { start: string } }).scripts.start;
    expect(start).toMatch(new RegExp(`^node ${YOUNG_GENERATION_FLAG} bin/tollgate\\.mjs serve`));
    expect(file('bin/tollgate.mjs').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${YOUNG_GENERATION_FLAG}`);
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(file('Dockerfile'))?.[1];
    expect(JSON.parse(entrypoint ?? '[]')).toEqual([
      '/usr/bin/tini',
      '--',
      'node',
      YOUNG_GENERATION_FLAG,
      'bin/tollgate.mjs',
    ]);
  });

  it('says how to set it only when node was started without one', () => {
    expect(youngGenerationHint([YOUNG_GENERATION_FLAG], undefined)).toBeUndefined();
    expect(youngGenerationHint(['--max-semi-space-size', '64'], undefined)).toBeUndefined();
    expect(youngGenerationHint([], `--enable-source-maps ${YOUNG_GENERATION_FLAG}`)).toBeUndefined();
    expect(youngGenerationHint(['--enable-source-maps'], '--max-old-space-size=512')).toContain(
      `NODE_OPTIONS=${YOUNG_GENERATION_FLAG}`,
    );
  });
});
