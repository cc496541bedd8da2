import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { ConfigError } from '../config/yaml.js';
import { PolicySet } from '../policy/policy-set.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { buildAuthenticators } from './build.js';

/** The authenticators of a config whose auth.jwt is `jwt` (YAML flow map), in a fresh folder. */
function build(jwt: string, files: Record<string, string> = {}): unknown {
  const dir = tempDir('auth-build-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const yaml = `upstreams:\n  a: { transport: stdio, command: x }\nauth:\n  jwt: ${jwt}\n`;
  const { config } = parseConfigText(yaml, join(dir, 'tollgate.yaml'), {});
  return buildAuthenticators(config, () => PolicySet.allowAll(), pino({ level: 'silent' }));
}

/** What the build threw (main.ts prints a ConfigError's message alone, without a stack). */
function thrown(f: () => unknown): ConfigError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('buildAuthenticators: JWT key files', () => {
  it('a missing public_key_file is a config error naming the key and the file', () => {
    const e = thrown(() => build('{ issuer: x, public_key_file: missing.pem }'));
    expect(e.message).toMatch(/auth\.jwt\.public_key_file \S+missing\.pem: ENOENT/);
  });

  it('a file that is not a key, or a jwk_file that is not JSON, names its key', () => {
    expect(thrown(() => build('{ issuer: x, public_key_file: k.pem }', { 'k.pem': 'not a key\n' })).message).toMatch(
      /auth\.jwt\.public_key_file: cannot import/,
    );
    expect(thrown(() => build('{ issuer: x, jwk_file: k.jwk }', { 'k.jwk': '{bad' })).message).toMatch(
      /auth\.jwt\.jwk_file \S+k\.jwk: .*JSON/,
    );
  });

  it('a readable public key builds the JWT authenticator', () => {
    const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const out = build('{ issuer: x, public_key_file: k.pem }', { 'k.pem': pem }) as { name: string }[];
    expect(out.map((a) => a.name)).toContain('jwt');
  });
});
