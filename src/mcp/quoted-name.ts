// A name or URI an agent sent, as errors and audit records quote it. An unknown tool's name is the
// agent's own text, up to the body cap (4 MiB): quoted whole it made the error, the audit record's
// name and its reason megabytes each, on every such call (every line of the log is read by `tollgate
// audit`, the admin page and the fleet's shipper). Past the bound the quote keeps the start and
// says how long the rest was.
export const MAX_QUOTED_NAME = 2048; // as audit.max_value_bytes' default cuts argument values

export function quotedName(given: unknown): string {
  const s = String(given);
  return s.length <= MAX_QUOTED_NAME ? s : `${s.slice(0, MAX_QUOTED_NAME)}… (${s.length} characters)`;
}
