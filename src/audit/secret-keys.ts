// Which key names hold secrets. A key is split into lower-case words at `_`, `-`, `.`, spaces and
// camelCase boundaries (`secretAccessKey` → secret access key, `X-Api-Key` → x api key), then:
//
// 1. a configured key (`audit.redact_keys`) matches the whole key or its end, ignoring case, `_` and `-`;
// 2. a key whose LAST word says it describes a secret rather than holds one (`token_count`,
//    `password_policy_min_length`, `auth_type`, `secret_name`, `token_url`) is not a secret;
// 3. a secret word anywhere (`db_pass`, `passphrase`, `aws_secret_access_key`, `oauth_token`) or a
//    qualified `key` (`api_key`, `private_key`, `access_key`, `encryption_key`) or a session id is;
// 4. so is a key whose letters END in a secret word without a separator (`mytoken`, `dbpassword`).
//
// Whole words, not substrings: `passenger`, `tokenizer`, `author`, `secretary`, `keyboard` and
// `max_tokens` (plural: a count) stay. Over-redacting prose is preferred to leaking a credential.

const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'pass',
  'pwd',
  'passphrase',
  'passcode',
  'secret',
  'secrets',
  'token',
  'credential',
  'credentials',
  'creds',
  'cookie',
  'cookies',
  'apikey',
  'privatekey',
  'authorization',
  'auth',
  'jwt',
  'bearer',
  'otp',
  'sessionid',
  'sessid',
  'jsessionid',
  'phpsessid',
]);

/** `<qualifier> key` is a key (`api_key`, `private_key`); `key` alone (a map key, a sort key) is not. */
const KEY_QUALIFIERS = new Set([
  'api',
  'private',
  'access',
  'secret',
  'signing',
  'encryption',
  'master',
  'client',
  'ssh',
  'account',
  'session',
  'license',
]);

/** Last words that make the key ABOUT a secret (a count, a kind, a place), not the secret itself. */
const DESCRIPTIVE_LAST_WORDS = new Set([
  'count',
  'length',
  'len',
  'size',
  'min',
  'max',
  'limit',
  'limits',
  'budget',
  'policy',
  'type',
  'types',
  'kind',
  'format',
  'method',
  'methods',
  'scheme',
  'mode',
  'strategy',
  'enabled',
  'disabled',
  'required',
  'present',
  'provided',
  'hint',
  'label',
  'name',
  'names',
  'url',
  'uri',
  'endpoint',
  'path',
  'file',
  'dir',
  'ref',
  'arn',
  'field',
  'env',
  'var',
  'ttl',
  'timeout',
  'expiry',
  'expires',
  'expiration',
  'exp',
  'lifetime',
  'age',
  'at',
  'in',
  'rotation',
  'version',
  'provider',
  'source',
  'status',
  'state',
  'usage',
  'used',
  'rate',
  'index',
  'prefix',
]);

/** Secret words matched at the end of a key without separators (`mytoken`, `dbpassword`). */
const SECRET_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'privatekey',
  'authorization',
  'cookie',
  'credentials',
];

/** Also secret in `key=value` text (URL query parameters: presigned URLs' `X-Amz-Signature`, `sig`). */
const TEXT_ONLY_WORDS = new Set(['sig', 'signature']);

const normalizeKey = (k: string): string => k.toLowerCase().replace(/[-_]/g, '');

/** Lower-case words of a key name (linear: two single-pass replaces and a split). */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** Whether a value under this key name is a secret; `inText` for `key=value` text and URL queries. */
export type SecretKeyMatcher = (key: string, inText?: boolean) => boolean;

/** `extra`: configured key names (`audit.redact_keys`), matched as the whole key or its end. */
export function secretKeyMatcher(extra: readonly string[]): SecretKeyMatcher {
  const configured = [...new Set(extra.map(normalizeKey).filter((k) => k.length > 0))];
  // Keys repeat (the same tools, the same argument names): decide each name once.
  const caches = [new Map<string, boolean>(), new Map<string, boolean>()] as const;

  const decide = (key: string, inText: boolean): boolean => {
    if (key.length > 256) key = key.slice(-256); // a secret word at the end still counts
    const flat = normalizeKey(key);
    if (configured.some((k) => flat.endsWith(k))) return true;
    const words = keyWords(key);
    if (words.length === 0) return false;
    if (words.length > 1 && DESCRIPTIVE_LAST_WORDS.has(words[words.length - 1] as string)) return false;
    for (let i = 0; i < words.length; i++) {
      const w = words[i] as string;
      if (SECRET_WORDS.has(w) || (inText && TEXT_ONLY_WORDS.has(w))) return true;
      const next = words[i + 1];
      if ((next === 'key' || next === 'keys') && KEY_QUALIFIERS.has(w)) return true;
      if (w === 'session' && next === 'id') return true;
    }
    const letters = words.join('');
    return SECRET_SUFFIXES.some((k) => letters.endsWith(k));
  };

  return (key, inText = false) => {
    const cache = caches[inText ? 1 : 0];
    let hit = cache.get(key);
    if (hit === undefined) {
      hit = decide(key, inText);
      if (cache.size < 10_000) cache.set(key, hit);
    }
    return hit;
  };
}
