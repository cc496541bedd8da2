// Who holds each resource subscription on an upstream session. Several agents share a session
// (isolation shared or per_agent, plus the 2026 listen streams): the upstream is subscribed once,
// with the first holder, and unsubscribed when the last one lets go, not when any one does.
import type { UpstreamSession } from './session.js';

interface Hold {
  session: UpstreamSession;
  uri: string;
}

export class SubscriptionHolds {
  private readonly bySession = new WeakMap<UpstreamSession, Map<string, Set<string>>>();
  private readonly byHolder = new Map<string, Hold[]>();

  /** Records the hold; true when it is the first on that URI (subscribe upstream now). */
  hold(session: UpstreamSession, uri: string, holder: string): boolean {
    let uris = this.bySession.get(session);
    if (!uris) this.bySession.set(session, (uris = new Map()));
    let holders = uris.get(uri);
    if (!holders) uris.set(uri, (holders = new Set()));
    if (holders.has(holder)) return false;
    holders.add(holder);
    const mine = this.byHolder.get(holder) ?? [];
    mine.push({ session, uri });
    this.byHolder.set(holder, mine);
    return holders.size === 1;
  }

  /** Drops the hold; true when it was the last on that URI (unsubscribe upstream now). */
  release(session: UpstreamSession, uri: string, holder: string): boolean {
    const holders = this.bySession.get(session)?.get(uri);
    if (!holders?.delete(holder)) return false;
    const mine = this.byHolder.get(holder)?.filter((h) => h.session !== session || h.uri !== uri) ?? [];
    if (mine.length) this.byHolder.set(holder, mine);
    else this.byHolder.delete(holder);
    if (holders.size > 0) return false;
    this.bySession.get(session)?.delete(uri);
    return true;
  }

  /** A holder is gone (its agent session ended): unsubscribe upstream where it was the last. */
  endHolder(holder: string, timeoutMs: number): void {
    for (const h of this.releaseAll(holder)) {
      if (h.session.isAlive)
        void h.session
          .request('resources/unsubscribe', { uri: h.uri }, { timeoutMs, maxTotalMs: timeoutMs })
          .catch(() => undefined);
    }
  }

  /** A holder is gone: the holds nobody else has any more. */
  releaseAll(holder: string): Hold[] {
    const mine = this.byHolder.get(holder) ?? [];
    return mine.filter((h) => this.release(h.session, h.uri, holder));
  }
}
