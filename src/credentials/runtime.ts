// The runtime form of `upstreams.<name>.auth` and `credentials:` (camelCase, paths resolved).
import { resolve } from 'node:path';
import { toMs } from '../config/runtime-units.js';
import type { CredentialsSpec, UpstreamAuthSpec } from './schema.js';

export interface SecretSet {
  headers: Readonly<Record<string, string>>;
  env: Readonly<Record<string, string>>;
  /** Header name → absolute path of a file holding its value. */
  headerFiles: Readonly<Record<string, string>>;
}

export interface ClientCredentials {
  id: string;
  secret: string | undefined;
}

export type UpstreamAuth =
  | {
      kind: 'per_agent';
      agents: Readonly<Record<string, SecretSet>>;
      groups: Readonly<Record<string, SecretSet>>;
    }
  | {
      kind: 'oauth';
      registration: 'auto' | 'pre_registered' | 'dynamic' | 'metadata_document';
      client: ClientCredentials | undefined;
      scopes: readonly string[] | undefined;
      catalogHeaders: Readonly<Record<string, string>>;
      refreshBeforeMs: number | undefined;
      /** AS hosts that may be private addresses besides the upstream's own (reach.ts). */
      allowPrivateHosts: readonly string[];
    }
  | {
      kind: 'token_exchange';
      tokenEndpoint: string;
      client: ClientCredentials | undefined;
      audience: string | undefined;
      resource: string | undefined;
      scopes: readonly string[];
      subjectTokenType: string;
      catalogHeaders: Readonly<Record<string, string>>;
    };

export interface VaultKeyConfig {
  id: string;
  /** base64 (a frozen config cannot hold Buffers). */
  key: string;
}

export interface CredentialsConfig {
  vault: { store: 'file' | 'redis'; file: string; keys: readonly VaultKeyConfig[] };
  refreshBeforeMs: number;
  linkTtlMs: number;
}

const secretSet = (
  s: { headers: Record<string, string>; env: Record<string, string>; header_files: Record<string, string> },
  baseDir: string,
): SecretSet => ({
  headers: s.headers,
  env: s.env,
  headerFiles: Object.fromEntries(Object.entries(s.header_files).map(([k, v]) => [k, resolve(baseDir, v)])),
});

const client = (c: { id: string; secret?: string | undefined } | undefined): ClientCredentials | undefined =>
  c && { id: c.id, secret: c.secret };

export function upstreamAuthConfig(a: UpstreamAuthSpec, baseDir: string): UpstreamAuth | undefined {
  if (!a) return undefined;
  switch (a.kind) {
    case 'per_agent':
      return {
        kind: 'per_agent',
        agents: Object.fromEntries(Object.entries(a.agents).map(([k, v]) => [k, secretSet(v, baseDir)])),
        groups: Object.fromEntries(Object.entries(a.groups).map(([k, v]) => [k, secretSet(v, baseDir)])),
      };
    case 'oauth':
      return {
        kind: 'oauth',
        registration: a.registration,
        client: client(a.client),
        scopes: a.scopes,
        catalogHeaders: a.catalog_headers,
        refreshBeforeMs: a.refresh_before === undefined ? undefined : toMs(a.refresh_before),
        allowPrivateHosts: a.allow_private_hosts,
      };
    case 'token_exchange':
      return {
        kind: 'token_exchange',
        tokenEndpoint: a.token_endpoint,
        client: client(a.client),
        audience: a.audience,
        resource: a.resource,
        scopes: a.scopes,
        subjectTokenType: a.subject_token_type,
        catalogHeaders: a.catalog_headers,
      };
  }
}

export function credentialsConfig(c: CredentialsSpec, baseDir: string): CredentialsConfig {
  return {
    vault: {
      store: c.vault.store,
      file: resolve(baseDir, c.vault.file),
      keys: c.vault.keys.map((k) => {
        const i = k.indexOf(':');
        return { id: k.slice(0, i), key: k.slice(i + 1) };
      }),
    },
    refreshBeforeMs: toMs(c.refresh_before),
    linkTtlMs: toMs(c.link_ttl),
  };
}
