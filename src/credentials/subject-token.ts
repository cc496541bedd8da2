// The bearer token an agent authenticated with, kept beside its identity object (never in it, so it
// is never logged or audited with the identity) for `auth.kind: token_exchange`.
import type { AgentIdentity } from '../auth/identity.js';

const tokens = new WeakMap<AgentIdentity, string>();

export function rememberSubjectToken(identity: AgentIdentity, token: string): void {
  tokens.set(identity, token);
}

export function subjectTokenOf(identity: AgentIdentity): string | undefined {
  return tokens.get(identity);
}
