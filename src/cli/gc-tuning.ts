// V8 settings for the long-running gateway (`tollgate serve`).
//
// Allocation-site pretenuring off, set before the gateway builds anything. V8 watches where objects
// are allocated and, when most of one site's objects survive a young-generation GC, allocates that
// site's objects in the old generation from then on. A burst of slow calls can tip a per-request
// site (a request's closures or options) over; its objects then die in the old generation and keep
// the young ones they point to — the rest of each finished request — alive through every scavenge:
// ~1.5–1.9 MB promoted per scavenge instead of ~0.15 MB, 7 ms pauses instead of 1.5–2.5, and ~15%
// more CPU per call, for the life of the process (a full GC does not undo it). Measured with
// bench/ab.mjs and --trace-gc-nvp, 12 gateways each way: 4 fell into that state with pretenuring on,
// none with it off (docs/benchmark-history.md, session 8). A gateway's objects are per request or
// live for its whole life, which pretenuring does not help.
//
// A larger young generation, which cannot be set from here: V8 sizes it when the process starts,
// so the flag must be on node's command line (package.json's start script, the image's entrypoint,
// bin/tollgate.mjs's shebang) or in NODE_OPTIONS. Every call's objects (a tool result's text
// several times over: as read, parsed, serialized for the agent) are young; with 16 calls of 100 KB
// in flight V8's default 16 MB semi-space filled every few calls and promoted what was in flight,
// and GC took more CPU than the calls themselves (docs/benchmark-history.md, session 9).
import { setFlagsFromString } from 'node:v8';

/** The young-generation size `tollgate serve` is started with (MB per semi-space). */
export const YOUNG_GENERATION_FLAG = '--max-semi-space-size=32';

export function tuneGcForServing(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}

/**
 * A line for the log when node was started without a young-generation size (`node
 * bin/tollgate.mjs serve` rather than the `tollgate` command, `npm start` or the image), else
 * undefined. `nodeOptions`: the NODE_OPTIONS variable.
 */
export function youngGenerationHint(execArgv: readonly string[], nodeOptions: string | undefined): string | undefined {
  const given = (arg: string) => arg.startsWith('--max-semi-space-size');
  if (execArgv.some(given) || (nodeOptions ?? '').split(/\s+/).some(given)) return undefined;
  return `node was started without a young-generation size: start it as \`node ${YOUNG_GENERATION_FLAG} …\` or set NODE_OPTIONS=${YOUNG_GENERATION_FLAG} (large tool results cost about a third less CPU; README "Deploying")`;
}
