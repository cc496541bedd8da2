// Refresh-token rotation as a busy (or hostile) client drives it: what the store keeps must not grow
// with the number of refreshes, and reuse of a spent token must still end the grant.
import { expect, it } from 'vitest';
import { GrantService, MAX_GRANTS_PER_CLIENT, type CodeRecord } from './grants.js';
import { SigningKeys } from './keys.js';
import { MemoryOAuthStore } from './store.js';

const REC: CodeRecord = {
  sub: 'alice',
  groups: [],
  idp: 'local',
  clientId: 'tgc_x',
  redirectUri: 'http://127.0.0.1:9/cb',
  codeChallenge: 'c'.repeat(43),
  resource: 'http://127.0.0.1:9/mcp',
  scope: 'mcp',
};

function service() {
  const store = new MemoryOAuthStore();
  const grants = new GrantService({
    store,
    keys: new SigningKeys(store, 3600_000),
    issuer: () => 'http://127.0.0.1:9',
    accessTokenTtlMs: 600_000,
    refreshTokenTtlMs: 30 * 24 * 3600_000,
    codeTtlMs: 60_000,
  });
  return { store, grants };
}

it('a refresh loop does not grow the store; a spent token still revokes the grant', async () => {
  const { store, grants } = service();
  const code = await grants.issueCode(REC);
  let t = await grants.start(code, await grants.redeemCode(code));
  const first = t.refresh_token;
  t = await grants.refresh(t.refresh_token, REC.clientId, undefined);
  const size = store.size;
  for (let i = 0; i < 50; i++) t = await grants.refresh(t.refresh_token, REC.clientId, undefined);
  expect(store.size).toBe(size);
  // The first refresh token, spent long ago, comes back (a stolen copy): the grant ends.
  await expect(grants.refresh(first, REC.clientId, undefined)).rejects.toMatchObject({ error: 'invalid_grant' });
  await expect(grants.refresh(t.refresh_token, REC.clientId, undefined)).rejects.toMatchObject({
    error: 'invalid_grant',
  });
});

it('a made-up refresh token that names a grant does not revoke it', async () => {
  const { grants } = service();
  const code = await grants.issueCode(REC);
  const t = await grants.start(code, await grants.redeemCode(code));
  const [gid] = (await grants.list()).map((g) => g.gid);
  for (const forged of [`tgr_${'A'.repeat(43)}.${gid}`, `${t.refresh_token.slice(0, -2)}xx`, `tgr_.${gid}.`])
    await expect(grants.refresh(forged, REC.clientId, undefined)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect((await grants.refresh(t.refresh_token, REC.clientId, undefined)).access_token).toBeTruthy();
});

it('grants per user and client are bounded: the oldest ends when a new one passes the bound', async () => {
  const { grants } = service();
  const startFor = async (clientId: string) => {
    const code = await grants.issueCode({ ...REC, clientId });
    return grants.start(code, await grants.redeemCode(code));
  };
  const first = await startFor('tgc_x');
  for (let i = 1; i < MAX_GRANTS_PER_CLIENT + 5; i++) await startFor('tgc_x');
  await startFor('tgc_y');
  const live = await grants.list();
  expect(live.filter((g) => g.clientId === 'tgc_x')).toHaveLength(MAX_GRANTS_PER_CLIENT);
  expect(live.filter((g) => g.clientId === 'tgc_y')).toHaveLength(1);
  await expect(grants.refresh(first.refresh_token, 'tgc_x', undefined)).rejects.toMatchObject({
    error: 'invalid_grant',
  });
});

it('a refresh asking for another resource is refused and leaves the refresh token usable', async () => {
  const { grants } = service();
  const code = await grants.issueCode(REC);
  const t = await grants.start(code, await grants.redeemCode(code));
  // The MCP SDK refreshes for the URL it connects to: a login for /mcp tried on another endpoint.
  await expect(grants.refresh(t.refresh_token, REC.clientId, 'http://127.0.0.1:9/v1')).rejects.toMatchObject({
    error: 'invalid_target',
  });
  // The token is still the current one: no "already used", no revoked grant.
  const next = await grants.refresh(t.refresh_token, REC.clientId, REC.resource);
  expect(next.access_token).toBeTruthy();
  expect(await grants.list()).toHaveLength(1);
  // Another client presenting it still ends the grant (a stolen token), whatever resource it names.
  await expect(grants.refresh(next.refresh_token, 'tgc_thief', 'http://127.0.0.1:9/v1')).rejects.toMatchObject({
    error: 'invalid_grant',
  });
  expect(await grants.list()).toHaveLength(0);
});
