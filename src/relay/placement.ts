// A new agent session's placement on each upstream of its view, chosen at initialize so it can be
// sealed into the session id: then every gateway instance sends the session to the same replica and,
// for per_session HTTP upstreams, the same upstream session.
import type { Placement } from '../upstream/upstream.js';
import type { View } from './view.js';

export async function placeSession(
  view: View,
  agentId: string,
  caps: Record<string, unknown>,
): Promise<Record<string, Placement> | undefined> {
  const placed = await Promise.all(view.upstreams.map(async (u) => [u.name, await u.place(agentId, caps)] as const));
  const out: Record<string, Placement> = {};
  for (const [name, p] of placed) if (p) out[name] = p;
  return Object.keys(out).length > 0 ? out : undefined;
}
