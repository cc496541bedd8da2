// The authenticators config asks for, in the order they are tried.
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { Authenticator } from './identity.js';
import { apiKeyAuthenticator } from './api-keys.js';
import { createJwtAuthenticator } from './jwt.js';
import { rememberSubjectToken } from '../credentials/subject-token.js';
import { ConfigError } from '../config/yaml.js';

/**
 * The resource URL tokens must be issued for (RFC 8707 audience) and the protected resource
 * metadata advertises: `auth.resource`, else `<public_url>/mcp`, else `<listenUrl>/mcp` — the
 * address the gateway really listens on (`serve --port P`), which the config's port need not be.
 */
export function resourceUrl(config: RuntimeConfig, listenUrl?: string): string {
  if (config.auth.resource) return config.auth.resource;
  const base = config.server.publicUrl ?? listenUrl ?? `http://${config.server.host}:${config.server.port}`;
  return `${base.replace(/\/$/, '')}/mcp`;
}

export function buildAuthenticators(
  config: RuntimeConfig,
  policies: () => PolicySet,
  log: Logger,
  listenUrl?: string,
): Authenticator[] {
  const out: Authenticator[] = [];
  const jwt = config.auth.jwt;
  if (jwt) {
    const keyFile = jwt.publicKeyFile ?? jwt.jwkFile;
    const keyName = jwt.publicKeyFile ? 'auth.jwt.public_key_file' : jwt.jwkFile ? 'auth.jwt.jwk_file' : 'auth.jwt';
    // A key file that is missing or not a key is the operator's to fix: a config error naming the
    // key and the file (one line from serve and check; SIGHUP keeps the running config), not a stack.
    const verifier = configured(keyFile ?? 'auth.jwt', keyName, () =>
      createJwtAuthenticator({
        issuer: jwt.issuer,
        audience: jwt.audience ?? resourceUrl(config, listenUrl),
        jwksUrl: jwt.jwksUrl,
        publicKeyPem: jwt.publicKeyFile ? readKeyFile('auth.jwt.public_key_file', jwt.publicKeyFile) : undefined,
        jwk: jwt.jwkFile ? (readKeyFile('auth.jwt.jwk_file', jwt.jwkFile, JSON.parse) as JWK) : undefined,
        hmacSecret: jwt.hmacSecret,
        algorithms: jwt.algorithms,
        clockToleranceSec: Math.round(jwt.clockSkewMs / 1000),
        agentClaim: jwt.agentClaim,
        requiredScopes: jwt.requiredScopes.length > 0 ? jwt.requiredScopes : undefined,
        requireExp: jwt.requireExp,
        onError: (err, description) =>
          log.warn({ err: (err as Error).message, description }, 'jwt verification problem'),
      }),
    );
    // The token's subject becomes an agent through the policies (listed subjects, claim matches).
    out.push({
      name: 'jwt',
      async authenticate(token) {
        const r = await verifier.authenticate(token);
        if (!r?.ok) return r;
        const identity = { ...r.identity, id: policies().agentForJwt(r.identity.id, r.identity.claims) };
        rememberSubjectToken(identity, token); // for upstreams with auth.kind token_exchange
        return { ok: true, identity };
      },
    });
  }
  // API keys last: they claim every token that is not a JWT.
  if (config.auth.apiKeys.length > 0 || config.policies)
    out.push(apiKeyAuthenticator({ inline: config.auth.apiKeys, policies }));
  return out;
}

/** Reads a key file the config names; a failure names the config key (caught by `configured`). */
function readKeyFile<T = string>(key: string, path: string, parse?: (text: string) => T): T {
  try {
    const text = readFileSync(path, 'utf8');
    return parse ? parse(text) : (text as T);
  } catch (err) {
    throw new Error(`${key} ${path}: ${(err as Error).message}`);
  }
}

/** Runs `build`; what it throws (a missing file, a malformed key) becomes a ConfigError naming `key`. */
function configured<T>(where: string, key: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // The verifier's own messages start "jwt auth: "; the key path is the config's name for it.
    const message = (err as Error).message.replace(/^jwt auth: /, '');
    throw new ConfigError(where, [message.startsWith('auth.jwt') ? message : `${key}: ${message}`]);
  }
}
