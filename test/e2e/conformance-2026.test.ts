// Conformance 0.2.0-alpha through the gateway, both requirement sets, against a dual-era fixture
// built on the v2 SDK. The 2025-11-25 set must pass exactly as directly. For 2026-07-28 every
// scored scenario must pass too, except the multi round-trip (input_required) family: bridging a
// 2025 upstream's sampling/elicitation into input_required answers is not built yet (see
// docs/design/mcp-2026.md). The list of those is exact, so the test fails when it changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConformance2026Server } from '../fixtures/conformance2026-server.js';
import { runConformance2026 } from '../conformance/run2026.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

let fixture: Awaited<ReturnType<typeof startConformance2026Server>>;
let gw: TestGateway;

beforeAll(async () => {
  fixture = await startConformance2026Server(0);
  gw = await startGateway(`upstreams:\n  c26: { transport: streamable_http, url: "${fixture.url}" }\nauth: { allow_anonymous: true }\n`);
}, 30_000);
afterAll(async () => {
  await gw?.close();
  await fixture?.close();
});

describe('conformance 0.2.0-alpha through the gateway', () => {
  it('2025-11-25 requirements: the same checks pass as directly', async () => {
    const direct = await runConformance2026(fixture.url, { requirements: '2025-11-25' });
    const through = await runConformance2026(`${gw.url}/mcp/c26`, { requirements: '2025-11-25' });
    console.log(`conformance 2025-11-25: direct ${direct.passed}/${direct.total}; through gateway ${through.passed}/${through.total}`);
    expect(direct.failures).toEqual([]);
    expect(through.failures).toEqual([]);
    expect(through.passed).toBe(direct.passed);
  }, 120_000);

  it('2026-07-28 requirements: every scored scenario passes but the input_required family', async () => {
    const direct = await runConformance2026(fixture.url, { requirements: '2026-07-28' });
    const through = await runConformance2026(`${gw.url}/mcp/c26`, { requirements: '2026-07-28' });
    console.log(`conformance 2026-07-28: direct ${direct.passed}/${direct.total}; through gateway ${through.passed}/${through.total}`);
    expect(direct.failures).toEqual([]);
    const failing = through.scenarios.filter((s) => s.failed > 0).map((s) => s.scenario);
    expect(failing.filter((s) => !s.startsWith('input-required-result-'))).toEqual([]);
    const passingDirect = direct.scenarios.filter((s) => !s.scenario.startsWith('input-required-result-'));
    for (const s of passingDirect) {
      // Same checks pass, save those the suite skips because we do not offer subscriptions/listen
      // yet (so we do not advertise list_changed to 2026 agents).
      const t = through.scenarios.find((x) => x.scenario === s.scenario);
      expect([s.scenario, t?.failed]).toEqual([s.scenario, 0]);
      const skipped = t?.checks.filter((c) => c.status === 'SKIPPED').map((c) => c.id) ?? [];
      expect(skipped.filter((id) => !/subscription|list-changed|notification-filter/.test(id))).toEqual([]);
      expect(t?.passed).toBeGreaterThanOrEqual(s.passed - skipped.length);
    }
  }, 120_000);
});
