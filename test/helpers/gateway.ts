// Starts a real gateway in-process on a free port from a YAML config text.
import { join } from 'node:path';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { tempDir } from './tmp.js';

export interface TestGateway {
  gw: Gateway;
  url: string;
  close(): Promise<void>;
}

export const TEST_KEY = 'test-key-0123456789';

export interface TestGatewayOptions {
  /** Where the audit log goes (default: a fresh temporary file). */
  auditFile?: string;
  /** The tool pin file (default: a fresh temporary file, so tests never share pins). */
  pinsFile?: string;
}

export async function startGateway(
  yaml: string,
  env: Record<string, string | undefined> = {},
  opts: TestGatewayOptions = {},
): Promise<TestGateway & { auditFile: string; pinsFile: string }> {
  const auditFile = opts.auditFile ?? join(tempDir('tollgate-audit-'), 'audit.jsonl');
  const pinsFile = opts.pinsFile ?? join(tempDir('tollgate-pins-'), 'tool-pins.json');
  const { config } = parseConfigText(yaml, `${process.cwd()}/test-config.yaml`, {
    TOLLGATE_AUDIT_FILE: auditFile,
    TOLLGATE_PINS_FILE: pinsFile,
    ...env,
  });
  const gw = await Gateway.open({
    config,
    env: { ...process.env, ...env },
    logger: pino({ level: process.env.TEST_LOG ?? 'silent' }),
  });
  await gw.startUpstreams();
  const { url } = await gw.listen(0, '127.0.0.1');
  return { gw, url, auditFile, pinsFile, close: () => gw.close() };
}

/** YAML for an auth block with one test agent (or more). */
export function authYaml(agents: Record<string, string> = { tester: TEST_KEY }): string {
  return `auth:\n  api_keys:\n${Object.entries(agents)
    .map(([agent, key]) => `    - { agent: ${agent}, key: ${key} }`)
    .join('\n')}\n`;
}
