// Self-describing session ids: the facts of an agent session (who, which endpoint, what it declared
// at initialize) sealed with AES-256-GCM, so any gateway instance holding the key can serve the
// session, and no one can forge one or use another agent's (the agent is inside the seal and is
// checked against the authenticated caller).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { isObject } from './jsonrpc.js';
import type { Placement } from '../upstream/upstream.js';

export interface SessionClaims {
  agent: string;
  /** '' for /mcp, else the server of /mcp/<server>. */
  view: string;
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
  /** ms since the epoch. */
  createdAt: number;
  /** Per upstream: replica index and, for per_session HTTP, the upstream session id. */
  placement?: Readonly<Record<string, Placement>> | undefined;
}

const AAD = Buffer.from('tollgate-session-v1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

interface SealKey {
  id: string;
  key: Buffer;
}

export class SessionSealer {
  private readonly keys: readonly SealKey[];

  /** `keys`: 32-byte keys, newest first (the first seals; all open, so a rotation keeps old ids). */
  constructor(
    keys: readonly Buffer[],
    private readonly maxAgeMs: number,
  ) {
    if (keys.length === 0) throw new Error('a session sealer needs at least one key');
    this.keys = keys.map((key) => {
      if (key.length !== 32) throw new Error('session seal keys are 32 bytes');
      return { id: createHash('sha256').update(key).digest('base64url').slice(0, 6), key };
    });
  }

  /** A key for one process only: its ids mean nothing to other instances or after a restart. */
  static ephemeral(maxAgeMs: number): SessionSealer {
    return new SessionSealer([randomBytes(32)], maxAgeMs);
  }

  seal(c: SessionClaims): string {
    const k = this.keys[0] as SealKey;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', k.key, iv).setAAD(AAD);
    const plain = JSON.stringify({
      a: c.agent,
      v: c.view,
      p: c.protocolVersion,
      c: c.capabilities,
      i: c.clientInfo,
      t: c.createdAt,
      u: c.placement,
    });
    const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${k.id}.${body.toString('base64url')}`;
  }

  /** The claims of a genuine, unexpired id; undefined for anything else (never throws). */
  open(id: string): SessionClaims | undefined {
    const dot = id.indexOf('.');
    const k = dot > 0 ? this.keys.find((x) => x.id === id.slice(0, dot)) : undefined;
    if (!k) return undefined;
    const text = id.slice(dot + 1);
    const body = Buffer.from(text, 'base64url');
    // One spelling per seal: decoding skips padding and stray characters, and ids are remembered as
    // text (ended here, ended in Redis, audit ref), so `<id>=` must not revive a DELETEd session.
    if (body.length < IV_BYTES + TAG_BYTES + 2 || body.toString('base64url') !== text) return undefined;
    let plain: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', k.key, body.subarray(0, IV_BYTES)).setAAD(AAD);
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      plain = Buffer.concat([
        decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      return undefined;
    }
    const p: unknown = JSON.parse(plain);
    if (
      !isObject(p) ||
      typeof p.a !== 'string' ||
      typeof p.v !== 'string' ||
      typeof p.p !== 'string' ||
      typeof p.t !== 'number'
    )
      return undefined;
    if (Date.now() - p.t > this.maxAgeMs) return undefined;
    return {
      agent: p.a,
      view: p.v,
      protocolVersion: p.p,
      capabilities: isObject(p.c) ? p.c : {},
      clientInfo: isObject(p.i) ? p.i : {},
      createdAt: p.t,
      ...(isObject(p.u) ? { placement: placementOf(p.u) } : {}),
    };
  }
}

function placementOf(u: Record<string, unknown>): Record<string, Placement> {
  const out: Record<string, Placement> = {};
  for (const [name, v] of Object.entries(u)) {
    if (!Array.isArray(v) || !Number.isSafeInteger(v[0])) continue;
    out[name] = typeof v[1] === 'string' ? [v[0] as number, v[1]] : [v[0] as number];
  }
  return out;
}
