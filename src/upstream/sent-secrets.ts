// An HTTP upstream's error page is repeated in what the gateway reports: the agent's error, the audit
// record, /readyz (open to anyone) and `tollgate check`. Servers and proxies in front of them often
// quote the request they refused, credentials included, so the values the gateway itself sent (its
// `headers`, a user's token, the URL's query) are cut out of that text first.

/** Shorter values are no credentials, and cutting them would garble ordinary words. */
const MIN_SECRET_LENGTH = 8;

/** The values worth hiding among headers we send and the upstream URL's query and password. */
export function sentSecrets(headers: readonly Readonly<Record<string, string>>[], url?: URL): string[] {
  const out = new Set<string>();
  const add = (v: string) => {
    if (v.length >= MIN_SECRET_LENGTH) out.add(v);
    // "Bearer <token>", "Basic <b64>": the token alone may be quoted too.
    const space = v.indexOf(' ');
    if (space > 0 && v.length - space - 1 >= MIN_SECRET_LENGTH) out.add(v.slice(space + 1).trim());
  };
  for (const h of headers) for (const v of Object.values(h)) add(v);
  if (url) {
    for (const v of url.searchParams.values()) add(v);
    if (url.password) add(decodeURIComponent(url.password));
  }
  // Longest first: a value containing another is cut whole.
  return [...out].sort((a, b) => b.length - a.length);
}

/** The first `max` characters of `text`, with every secret in them replaced by `[REDACTED]`. */
export function quoteWithout(text: string, max: number, secrets: readonly string[]): string {
  const longest = secrets[0]?.length ?? 0;
  // A secret that starts before `max` is wholly inside this window: none is cut in half and left.
  let t = text.slice(0, max + longest);
  for (const s of secrets) t = t.replaceAll(s, '[REDACTED]');
  return t.slice(0, max);
}
