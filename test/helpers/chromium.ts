// Headless Chromium for browser tests: the system's Debian `chromium` driven by playwright-core (which
// never downloads a browser). Tests skip, loudly, only when that binary is missing.
import { existsSync, rmSync } from 'node:fs';
import type { BrowserContext } from 'playwright-core';
import { tempDir } from './tmp.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Tests never leave the machine: a third-party page (oidc-provider's login page imports a web font)
  // must not wait on DNS or a filtered network. Every name but localhost and 127.0.0.1 fails at once;
  // 127.0.0.2 too: a loopback page (a secure context) from an origin the gateway does not admit.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2',
];

/** True when Chromium is installed; otherwise warns so a skipped browser test is never silent. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  console.warn(`\n!!! ${CHROMIUM_PATH} is missing: browser tests are SKIPPED (apt-get install chromium) !!!\n`);
  return false;
}

/** A browser with a fresh, empty profile; `close` removes the profile too. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const profile = tempDir('tollgate-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1360, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
