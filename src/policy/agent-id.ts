// The agent id pattern on its own: `tollgate key new` checks names with it without importing the
// policy schema (zod), which the command does not otherwise need.

/** An agent id: also a policy file name and a metrics label, hence no spaces, slashes or quotes. */
export const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/;
