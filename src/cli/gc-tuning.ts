// V8 settings for the long-running gateway (`tollgate serve`), set before it builds anything.
//
// Allocation-site pretenuring off. V8 watches where objects are allocated and, when most of one
// site's objects survive a young-generation GC, allocates that site's objects in the old
// generation from then on. A burst of slow calls can tip a per-request site (a request's closures
// or options) over; its objects then die in the old generation and keep the young ones they point
// to — the rest of each finished request — alive through every scavenge: ~1.5–1.9 MB promoted per
// scavenge instead of ~0.15 MB, 7 ms pauses instead of 1.5–2.5, and ~15% more CPU per call, for the
// life of the process (a full GC does not undo it). Measured with bench/ab.mjs and --trace-gc-nvp,
// 12 gateways each way: 4 fell into that state with pretenuring on, none with it off
// (docs/benchmark-history.md, session 8). A gateway's objects are per request or live for its
// whole life, which pretenuring does not help.
import { setFlagsFromString } from 'node:v8';

export function tuneGcForServing(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
