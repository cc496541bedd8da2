// Which command-line arguments of a stdio upstream are credentials. Servers are often given theirs
// on the command line (`--api-key ${KEY}`, `--token=…`, a database URL with its password), and they
// print their command line in errors, usage text and logs, which the gateway passes on (the agent's
// error, /readyz, the log): these values are cut from that text like the upstream's `env`.

/** A flag whose value is a credential: `--api-key`, `--token`, `-password`, `--client_secret`, `--auth`. */
const SECRET_FLAG = /^--?[A-Za-z0-9_-]*(key|token|secret|passw(or)?d|pass|pwd|auth|credentials?|bearer)$/i;

/** Values from the config's `${VAR}` in an argument; a flag's value; a URL's password and query values. */
export function argSecrets(args: readonly string[], expanded: readonly string[]): string[] {
  const out = [...expanded];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf('=');
    if (arg.startsWith('-') && eq > 0 && SECRET_FLAG.test(arg.slice(0, eq))) out.push(arg.slice(eq + 1));
    else if (SECRET_FLAG.test(arg) && i + 1 < args.length) out.push(args[i + 1] as string);
    out.push(...urlSecrets(eq > 0 && arg.startsWith('-') ? arg.slice(eq + 1) : arg));
  }
  return out;
}

/** A URL's password and query values (a database or service URL given as an argument). */
function urlSecrets(s: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return [];
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return [];
  }
  const out = [...url.searchParams.values()];
  if (url.password) {
    out.push(url.password);
    try {
      const decoded = decodeURIComponent(url.password);
      if (decoded !== url.password) out.unshift(decoded);
    } catch {
      // a stray `%`: the password as written is all there is
    }
  }
  return out;
}
