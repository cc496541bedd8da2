import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { ConfigError } from '../config/yaml.js';
import { openOAuthServer } from '../gateway-auth.js';
import { tempDir } from '../../test/helpers/tmp.js';

describe('OAuthServer: files the config names', () => {
  it('a client_id_metadata.ca_file that cannot be read is a config error naming the key and the file', () => {
    const dir = tempDir('oauth-ca-');
    const { config } = parseConfigText(
      `upstreams: { a: { transport: stdio, command: x } }
auth: { oauth: { enabled: true, client_id_metadata: { ca_file: missing-ca.pem } } }
`,
      join(dir, 'tollgate.yaml'),
      {},
    );
    const open = () =>
      openOAuthServer(config, {
        baseUrl: () => 'http://127.0.0.1:1',
        resource: () => 'http://127.0.0.1:1/mcp',
        log: pino({ level: 'silent' }),
      });
    // main.ts prints a ConfigError's message alone: no stack trace at start.
    expect(open).toThrow(ConfigError);
    expect(open).toThrow(/auth\.oauth\.client_id_metadata\.ca_file: ENOENT.*missing-ca\.pem/);
  });
});
