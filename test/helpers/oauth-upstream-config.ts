// Gateway config for tests of per-user credentials against test/helpers/oauth-upstream.ts: a vault
// file holding users' connections, and the `acct` upstream that asks for them.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FileVaultStore } from '../../src/credentials/vault-store.js';
import { Vault, VaultKeys, type Connection } from '../../src/credentials/vault.js';
import type { OAuthUpstream } from './oauth-upstream.js';
import { tempDir } from './tmp.js';

/**
 * A vault file in a fresh folder holding each user's connection to `acct` (as if they had connected),
 * and the `credentials:` block that opens it.
 */
export async function vaultWith(connections: Record<string, Connection>): Promise<string> {
  const key = randomBytes(32).toString('base64');
  const vaultFile = join(tempDir('tollgate-vault-'), 'vault.json');
  const vault = new Vault(new VaultKeys([{ id: 'k1', key }]), new FileVaultStore(vaultFile));
  for (const [user, c] of Object.entries(connections)) await vault.put('acct', user, c);
  await vault.close();
  return `credentials:\n  vault: { file: ${vaultFile}, keys: ["k1:${key}"] }\n`;
}

/** A static token of the fixture's (`static-<user>`), connected at `connectedAt`. */
export const staticConnection = (up: OAuthUpstream, user: string, connectedAt = Date.now()): Connection => ({
  accessToken: `static-${user}`,
  issuer: up.origin,
  connectedAt,
});

/** A fresh grant of the fixture's for `user` that expired a second ago: the next use refreshes it. */
export function expiredConnection(up: OAuthUpstream, user: string): Connection {
  const t = up.grant(user);
  return {
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    expiresAt: Date.now() - 1000,
    issuer: up.origin,
    connectedAt: Date.now(),
  };
}

/**
 * The `acct` upstream (under `upstreams:`): the fixture with per-user OAuth, a pre-registered client,
 * and (unless `catalogHeaders` is false) an operator token for its catalog.
 */
export function acctUpstreamYaml(
  up: OAuthUpstream,
  isolation: 'per_agent' | 'per_session',
  catalogHeaders = true,
): string {
  return `  acct:
    transport: streamable_http
    url: "${up.mcpUrl}"
    protocol: "2025"
    isolation: ${isolation}
    auth:
      kind: oauth
      client: { id: tollgate, secret: tollgate-secret-0123 }
${catalogHeaders ? '      catalog_headers: { authorization: "Bearer static-operator" }\n' : ''}`;
}
