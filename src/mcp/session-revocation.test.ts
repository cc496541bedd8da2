// max_age and DELETE as the documented guarantees say (issue 14): the instance holding a session
// enforces max_age too, and a shared-session instance does not adopt an id it cannot check.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../errors.js';
import type { AgentIdentity } from '../auth/identity.js';
import { ConnectionCap } from './connection-cap.js';
import type { SessionBus, SessionState } from './session-bus.js';
import { SessionSealer } from './session-seal.js';
import { SessionStore } from './session-store.js';

const HOUR = 3600_000;
const alice: AgentIdentity = { id: 'alice', method: 'api_key', scopes: [], claims: {} };
const key = randomBytes(32);

/** A bus whose Redis answers (a set of ended ids) or is down. */
function fakeBus(): SessionBus & { ended: Set<string>; down: boolean } {
  const ended = new Set<string>();
  const bus = {
    ended,
    down: false,
    publish: () => undefined,
    async lookup(id: string) {
      if (bus.down) return { ended: false, state: undefined as SessionState | undefined, unreachable: true };
      return { ended: ended.has(id), state: undefined };
    },
    shareState: () => undefined,
    markEnded: (id: string) => void ended.add(id),
    close: async () => undefined,
  };
  return bus;
}

function store(bus?: SessionBus): { store: SessionStore; ended: string[] } {
  const ended: string[] = [];
  const s = new SessionStore({
    idleMs: 24 * HOUR,
    maxAgeMs: HOUR,
    replayEvents: 10,
    sealer: new SessionSealer([key], HOUR),
    bus,
    cap: new ConnectionCap('sessions', 100, 100),
    onEnd: (x) => ended.push(x.id),
  });
  return { store: s, ended };
}

function open(s: SessionStore): string {
  const session = s.create({
    identity: alice,
    viewKey: '',
    protocolVersion: '2025-11-25',
    clientInfo: { name: 't' },
    capabilities: {},
    placement: undefined,
  });
  expect(s.add(session)).toBeUndefined();
  return session.id;
}

afterEach(() => vi.useRealTimers());

describe('sessions.max_age', () => {
  it('is enforced by the instance that holds the session, not only when another adopts it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 0, 1));
    const { store: s, ended } = store();
    const id = open(s);
    vi.setSystemTime(Date.UTC(2026, 0, 1) + HOUR - 1000);
    expect(await s.resolve(id, alice, '')).toMatchObject({ id });
    vi.setSystemTime(Date.UTC(2026, 0, 1) + HOUR + 1000);
    expect(await s.resolve(id, alice, '')).toBeUndefined();
    expect(ended).toEqual([id]);
    s.close();
  });
});

describe('DELETE with sessions.shared', () => {
  it('another instance refuses an id DELETEd elsewhere', async () => {
    const bus = fakeBus();
    const a = store(bus);
    const b = store(bus);
    const id = open(a.store);
    a.store.end(id, true);
    expect(await b.store.resolve(id, alice, '')).toBeUndefined();
    a.store.close();
    b.store.close();
  });

  it('refuses a DELETEd id in any other spelling of the same sealed bytes (here and elsewhere)', async () => {
    const bus = fakeBus();
    const a = store(bus);
    const b = store(bus);
    const id = open(a.store);
    a.store.end(id, true);
    // base64url decoding skips padding and characters outside its alphabet: the same seal, new text.
    for (const variant of [`${id}=`, `${id}==`, `${id.slice(0, 12)}*${id.slice(12)}`]) {
      expect(await a.store.resolve(variant, alice, '')).toBeUndefined();
      expect(await b.store.resolve(variant, alice, '')).toBeUndefined();
    }
    a.store.close();
    b.store.close();
  });

  it('while Redis is down, a fresh instance does not adopt an id it cannot check (503, retry), and adopts it once Redis answers', async () => {
    const bus = fakeBus();
    const a = store(bus);
    const b = store(bus);
    const id = open(a.store);
    bus.down = true;
    const refused = await b.store.resolve(id, alice, '');
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).httpStatus).toBe(503);
    expect((refused as GatewayError).data).toEqual({ retryAfterSeconds: 1 });
    expect(b.store.size).toBe(0);
    expect(await a.store.resolve(id, alice, '')).toMatchObject({ id }); // the holding instance still serves it
    bus.down = false;
    expect(await b.store.resolve(id, alice, '')).toMatchObject({ id });
    a.store.close();
    b.store.close();
  });
});
