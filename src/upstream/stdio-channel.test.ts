import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import type { StdioUpstreamConfig } from '../config/runtime.js';
import { StdioChannel } from './stdio-channel.js';

const SECRET = 'stdio-stderr-secret-5a7c3e91';

/** A process that says its environment on stderr, then waits to be closed. */
function config(): StdioUpstreamConfig {
  const script = `process.stderr.write('token ' + process.env.UP_TOKEN + ' debug=' + process.env.DEBUG + '\\n'); setInterval(() => {}, 1000);`;
  const { config: c } = parseConfigText(
    `upstreams:
  talker: { transport: stdio, command: ${JSON.stringify(process.execPath)}, args: ["-e", ${JSON.stringify(script)}], env: { UP_TOKEN: "\${T}", DEBUG: "true" } }
auth: { api_keys: [{ agent: a, key: test-key-0123456789 }] }
`,
    '/tmp/tollgate.yaml',
    { T: SECRET },
  );
  return c.upstreams[0] as StdioUpstreamConfig;
}

describe('a stdio server saying its env: secret on stderr', () => {
  it('the gateway log has the line without the secret (short values stay)', async () => {
    const lines: string[] = [];
    let said: () => void = () => undefined;
    const heard = new Promise<void>((r) => {
      said = r;
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        if (chunk.toString('utf8').includes('upstream stderr')) said();
        done();
      },
    });
    const channel = new StdioChannel(config(), {}, pino({ level: 'info' }, sink));
    await channel.open({ message: () => undefined, closed: () => undefined });
    await heard;
    await channel.close();
    const log = lines.join('');
    expect(log).toContain('token [REDACTED] debug=true');
    expect(log).not.toContain(SECRET);
  });
});
