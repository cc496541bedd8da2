// The admin page in a real browser (headless Chromium) against a real HTTP server and a real audit
// file: log in through the form, see records, filter, watch the live tail, open a record.
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes } from '../../src/admin/routes.js';
import { AuditRecorder, type AuditFields } from '../../src/audit/step.js';
import { openAuditWriter } from '../../src/audit/writer.js';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.js';
import { tempDir } from '../helpers/tmp.js';

const TOKEN = 'admin-token-for-the-browser-test';
// A look at the page for people (set TOLLGATE_ADMIN_SCREENSHOT=path to keep it); by default it goes with the run's temp files.
const SCREENSHOT = process.env.TOLLGATE_ADMIN_SCREENSHOT ?? join(tempDir('tollgate-admin-shot-'), 'admin.png');
const enabled = chromiumAvailable();

let recorder: AuditRecorder;
let server: ServerType;
let base: string;
let browser: { context: BrowserContext; close(): Promise<void> };
let page: Page;
const pageErrors: string[] = [];

const record = (
  agent: string,
  tool: string,
  decision: AuditFields['tollgate.decision'] = 'allowed',
  extra: Partial<AuditFields> = {},
) =>
  recorder.record({
    'gen_ai.agent.id': agent,
    'tollgate.auth.method': 'api_key',
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': tool,
    'tollgate.upstream.name': tool.split('__')[0] ?? null,
    'tollgate.target.native': tool.split('__')[1] ?? null,
    'tollgate.request.arguments': { query: 'is:open label:bug', per_page: 20 },
    'tollgate.decision': decision,
    'tollgate.decision_reason': decision === 'allowed' ? null : `${decision.replace('_', ' ')} by policy`,
    'tollgate.outcome': decision === 'allowed' ? 'ok' : 'jsonrpc_error',
    'tollgate.latency.total_ms': 40 + Math.round(Math.random() * 400),
    'tollgate.latency.upstream_ms': 30,
    ...extra,
  });

const rowsOf = (p: Page) => p.locator('#rows tr.rec');

beforeAll(async () => {
  if (!enabled) return;
  const dir = tempDir('tollgate-admin-page-');
  const auditPath = join(dir, 'audit.jsonl');
  recorder = new AuditRecorder(await openAuditWriter({ destination: { path: auditPath } }), 'browser-test');
  const app = new Hono();
  app.route(
    '/admin',
    adminRoutes({
      tokens: [TOKEN],
      tokenHashes: [],
      auditPath,
      recorder,
      upstreams: () => [
        { name: 'github', transport: 'http', state: 'ready', tools: 38, prompts: 2, resources: 0 },
        { name: 'fs', transport: 'stdio', state: 'ready', tools: 11, prompts: 0, resources: 4 },
        {
          name: 'jira',
          transport: 'sse',
          state: 'down',
          error: 'connect ECONNREFUSED 10.0.4.12:8443',
          tools: 0,
          prompts: 0,
          resources: 0,
        },
      ],
      agents: () => ['alice', 'bob', 'ci-bot'],
      usage: async (agent) =>
        agent === 'alice'
          ? [
              {
                name: 'tool calls',
                kind: 'requests',
                limit: 600,
                used: 212,
                remaining: 388,
                periodMs: 3_600_000,
                resetMs: 1_260_000,
              },
              {
                name: 'tokens',
                kind: 'tokens',
                limit: 200_000,
                used: 161_500,
                remaining: 38_500,
                periodMs: 86_400_000,
                resetMs: 30_000_000,
              },
              { name: 'parallel', kind: 'concurrency', limit: 4, used: 1, remaining: 3 },
            ]
          : agent === 'bob'
            ? [
                {
                  name: 'tool calls',
                  kind: 'requests',
                  limit: 100,
                  used: 96,
                  remaining: 4,
                  periodMs: 60_000,
                  resetMs: 21_000,
                },
              ]
            : [],
      reloadPolicies: () => ({ ok: true }),
    }),
  );
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.setDefaultTimeout(10_000); // fail with playwright's message, before vitest's timeout
  // The failed login's 401 is expected; blocked scripts or styles and script errors are not.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) pageErrors.push(m.text());
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
  await recorder?.close();
});

describe.skipIf(!enabled)('admin page in Chromium', () => {
  it('sends a visitor without a credential to the login page', async () => {
    await page.goto(`${base}/admin/`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await expect(page.locator('input[name="token"]').isVisible()).resolves.toBe(true);
  });

  it('logs in through the form and shows a tool call written during the test', async () => {
    await record('bob', 'fs__read_file', 'denied', { 'tollgate.decision_rule': 'bob.yaml#tools.deny[0]' });
    await record('alice', 'github__search');
    await page.fill('input[name="token"]', 'tg_not-an-admin-token');
    await page.click('button[type="submit"]');
    await page.locator('.alert').waitFor();
    expect(await page.locator('.alert').textContent()).toContain('not an admin token');
    await page.fill('input[name="token"]', TOKEN);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/admin/`);
    const first = rowsOf(page).first();
    expect(await first.getAttribute('data-agent')).toBe('alice');
    expect(await first.locator('.target').textContent()).toBe('github__search');
    expect(await first.locator('.badge').textContent()).toBe('Allowed');
    expect(await rowsOf(page).count()).toBe(2);
  });

  it('filters by agent through the form', async () => {
    await page.fill('input[name="agent"]', 'alice');
    await page.click('form.filters button[type="submit"]');
    await page.waitForURL((u) => u.searchParams.get('agent') === 'alice');
    const agents = await rowsOf(page).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-agent')));
    expect(agents).toEqual(['alice']);
  });

  it('shows a record written after the page loaded, through the live tail (filters applied)', async () => {
    await page.locator('#live-state.on').waitFor(); // the EventSource is open
    expect(await page.locator('#live-state').textContent()).toBe('Live');
    await record('bob', 'fs__write_file', 'rate_limited'); // not alice: must not appear
    await record('alice', 'github__create_issue');
    await page.locator('#rows tr.rec', { hasText: 'github__create_issue' }).waitFor();
    const agents = await rowsOf(page).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-agent')));
    expect(agents).toEqual(['alice', 'alice']);
    // A live row opens like the others.
    await rowsOf(page).first().click();
    const detail = page.locator('#rows tr.detail').first();
    expect(await detail.isVisible()).toBe(true);
    expect(await detail.textContent()).toContain('github__create_issue');
  });

  it('looks right: screenshot of the unfiltered page with a record open', async () => {
    await record('ci-bot', 'fs+file:///srv/docs/runbook.md', 'allowed', {
      'mcp.method.name': 'resources/read',
      'gen_ai.tool.name': null,
      'gen_ai.operation.name': null,
      'mcp.resource.uri': 'fs+file:///srv/docs/runbook.md',
    });
    await record('bob', 'github__delete_repo', 'denied', { 'tollgate.decision_rule': 'bob.yaml#tools.deny[0]' });
    await record('alice', 'github__list_pulls', 'budget_exceeded');
    await record('alice', 'jira__create_ticket', 'error', {
      'tollgate.decision_reason': 'upstream jira is unavailable',
    });
    await record('alice', 'github__get_file', 'allowed', { 'tollgate.outcome': 'is_error' });
    await page.goto(`${base}/admin/`);
    await page.locator('#live-state.on').waitFor();
    await rowsOf(page).nth(1).click();
    expect(await rowsOf(page).count()).toBe(9);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(pageErrors).toEqual([]); // the inline script ran under the CSP, nothing was blocked
  });
});
