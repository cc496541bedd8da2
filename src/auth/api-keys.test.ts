import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicySet } from '../policy/policy-set.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { apiKeyAuthenticator, generateApiKey, hashApiKey } from './api-keys.js';

/** A policies dir whose one file gives `agent` the key `key`. */
function policiesWith(agent: string, key: string | undefined): PolicySet {
  const dir = join(tempDir('tollgate-keys-'), 'policies');
  mkdirSync(dir);
  const hashes = key ? `identities:\n  api_key_hashes: ["${hashApiKey(key)}"]\n` : '';
  writeFileSync(join(dir, `${agent}.yaml`), `agent: ${agent}\n${hashes}tools:\n  allow: ["*"]\n`);
  return PolicySet.load(dir);
}

describe('apiKeyAuthenticator', () => {
  it('a key a reload removed is refused from that reload on, though it was accepted before', () => {
    const key = generateApiKey();
    let current = policiesWith('alice', key);
    const auth = apiKeyAuthenticator({ inline: [], policies: () => current });
    const first = auth.authenticate(key);
    expect(first).toMatchObject({ ok: true, identity: { id: 'alice', method: 'api_key' } });
    expect(auth.authenticate(key)).toEqual(first);
    current = policiesWith('alice', undefined);
    expect(auth.authenticate(key)).toMatchObject({ ok: false, error: 'invalid_token' });
  });

  it('a key moved to another agent by a reload names that agent', () => {
    const key = generateApiKey();
    let current = policiesWith('alice', key);
    const auth = apiKeyAuthenticator({ inline: [], policies: () => current });
    expect(auth.authenticate(key)).toMatchObject({ ok: true, identity: { id: 'alice' } });
    current = policiesWith('bob', key);
    expect(auth.authenticate(key)).toMatchObject({ ok: true, identity: { id: 'bob' } });
  });

  it('wrong keys are refused every time, and the identity handed out cannot be changed by a step', () => {
    const key = generateApiKey();
    const current = policiesWith('alice', key);
    const auth = apiKeyAuthenticator({ inline: [{ agent: 'ops', key: 'tg_inline-key' }], policies: () => current });
    for (let i = 0; i < 3; i++)
      expect(auth.authenticate(`${key.slice(0, -1)}x`)).toMatchObject({ ok: false, error: 'invalid_token' });
    expect(auth.authenticate('tg_inline-key')).toMatchObject({ ok: true, identity: { id: 'ops' } });
    const r = auth.authenticate(key);
    if (!r || r instanceof Promise || !r.ok) throw new Error('expected an identity');
    expect(() => {
      (r.identity as { id: string }).id = 'root';
    }).toThrow(TypeError);
    expect(auth.authenticate(key)).toMatchObject({ ok: true, identity: { id: 'alice' } });
  });

  it('JWT-shaped tokens are left to the JWT authenticator', () => {
    const auth = apiKeyAuthenticator({ inline: [], policies: () => PolicySet.allowAll() });
    expect(auth.authenticate('a.b.c')).toBeUndefined();
  });
});
