// ${VAR} and ${VAR:-default} in every string of the config. `$${` escapes a literal `${`.

export interface InterpolationResult<T> {
  value: T;
  /** Variables that were unset and fell back to their default. */
  defaulted: string[];
  /** The default each of those took. */
  defaults: Record<string, string>;
  /** Variables that were unset with no default (an error for the caller to report). */
  missing: { variable: string; path: (string | number)[] }[];
  /** Each value a set variable put into the config, and where (values that may be credentials). */
  expanded: { path: (string | number)[]; value: string }[];
}

const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

const WHOLE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;
const typed = (s: string): string | number | boolean =>
  /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s === 'true' ? true : s === 'false' ? false : s;

export function interpolate<T>(input: T, env: Readonly<Record<string, string | undefined>>): InterpolationResult<T> {
  const defaulted = new Set<string>();
  const defaults: Record<string, string> = {};
  const missing: InterpolationResult<T>['missing'] = [];
  const expanded: InterpolationResult<T>['expanded'] = [];

  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (typeof v === 'string') {
      const out = v.replace(PATTERN, (whole, name: string | undefined, fallback: string | undefined) => {
        if (whole === '$${') return '${';
        const name_ = name ?? '';
        const set = env[name_];
        if (set !== undefined && set !== '') {
          expanded.push({ path, value: set });
          return set;
        }
        if (fallback !== undefined) {
          defaulted.add(name_);
          defaults[name_] = fallback;
          return fallback;
        }
        missing.push({ variable: name_, path });
        return '';
      });
      // `port: ${PORT:-8080}` should still be a number: a value that is one whole placeholder takes
      // the YAML type of what it expands to.
      return out !== v && WHOLE.test(v) ? typed(out) : out;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, [...path, k]);
      return out;
    }
    return v;
  };

  return { value: walk(input, []) as T, defaulted: [...defaulted], defaults, missing, expanded };
}
