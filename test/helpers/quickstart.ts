// What a test that serves the quickstart config (examples/quickstart/tollgate.yaml) passes in the
// environment: the files the quickstart keeps beside its config (audit log, pins, OAuth state) and
// the memory server's file go to a temporary folder instead, so tests never write into the
// repository and two files serving the quickstart at once never share an audit chain.
import { join } from 'node:path';
import { tempDir } from './tmp.js';

export function quickstartEnv(): Record<string, string> {
  const dir = tempDir('tollgate-quickstart-');
  return {
    TOLLGATE_AUDIT_FILE: join(dir, 'tollgate-audit.jsonl'),
    TOLLGATE_PINS_FILE: join(dir, 'tool-pins.json'),
    TOLLGATE_OAUTH_FILE: join(dir, 'tollgate-oauth.json'),
    TOLLGATE_MEMORY_FILE: join(dir, 'memory.jsonl'),
  };
}
