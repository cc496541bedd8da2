// The fast lanes in front of the Hono app (buildApp, src/app.ts): requests they serve run on node:http
// directly; the rest go on to Hono. Separate so app.ts keeps to the pipeline.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from './gateway.js';
import { originCheck } from './http/origin-guard.js';
import { fastPost } from './mcp/fast-post.js';
import { gatewayLlmLane } from './gateway-llm.js';

type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The `/mcp` fast lane in front of the Hono app (src/mcp/fast-post.ts): a JSON-RPC request on a
 * session held here, answered in JSON, runs the agent routes' steps of src/app.ts (0–3, same order, same
 * checks) and the MCP steps (src/app.ts) on node:http directly; any other request, and any request one of
 * those steps would refuse, is Hono's. Off with tracing (its HTTP span is a Hono middleware).
 */
export function mcpFastLane(gw: Gateway): ((hono: NodeListener) => NodeListener) | undefined {
  if (gw.tracing) return undefined;
  const { config } = gw;
  const options = {
    relay: gw.relay,
    sessions: gw.sessions,
    originProblem: originCheck({
      allowedOrigins: config.server.allowedOrigins,
      allowedHosts: config.server.allowedHosts,
      publicUrl: config.server.publicUrl,
    }),
    maxBodyBytes: config.server.maxBodyBytes,
    // The gateway's own array: it is refilled in place once the listen address is known.
    authenticators: gw.authenticators,
    keepaliveMs: config.server.sseKeepaliveMs,
    streams: gw.sseStreams,
    onError: (err: unknown) => gw.log.error({ err }, 'unhandled error'),
  };
  return (hono) => fastPost(options, hono);
}

/**
 * The fast lanes in front of the Hono app, outermost first: /v1 (src/llm/fast-lane.ts, with `llm:`)
 * and /mcp (mcpFastLane); each hands what it does not serve to the next, the last to Hono. None with
 * tracing.
 */
export function fastLanes(gw: Gateway): ((hono: NodeListener) => NodeListener) | undefined {
  const mcp = mcpFastLane(gw);
  const llm = gatewayLlmLane(gw.config, gw.llm, gw);
  if (!mcp) return llm;
  return llm ? (hono) => llm(mcp(hono)) : mcp;
}
