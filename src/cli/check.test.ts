import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { checkCommand } from './check.js';

describe('tollgate check --connect', () => {
  it('warns about an upstream it cannot reach even when no policies are configured', async () => {
    const dir = tempDir('check-');
    const file = join(dir, 'tollgate.yaml');
    // Port 1 on loopback: refused at once, so the check does not wait for a timeout.
    const yaml = `upstreams:\n  gone: { transport: streamable_http, url: "http://127.0.0.1:1/mcp" }\nauth: { allow_anonymous: true }\naudit: { file: null }\n`;
    const loaded = parseConfigText(yaml, file, {});
    const out: string[] = [];
    const err: string[] = [];
    const code = await checkCommand(loaded, {}, file, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      connect: true,
    });
    expect(code).toBe(0); // serve starts with it down and retries: a warning, not a failed check
    expect(err.join('\n')).toMatch(/warning: upstream gone is down: .*ECONNREFUSED/);
    expect(out.join('\n')).toMatch(/1 of 1 upstream not ready/);
  });
});
