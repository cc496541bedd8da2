// DNS-rebinding defence: a browser page on evil.example that resolves to 127.0.0.1 still sends its
// own Host and Origin, so both are checked against allow-lists before anything else runs.
import type { MiddlewareHandler } from 'hono';
import { errorResponse } from './respond.js';
import { headerOf } from './node-io.js';

export interface OriginGuardOptions {
  /** Exact Origin values accepted (e.g. "https://agents.example.com"). Requests without Origin pass. */
  allowedOrigins?: readonly string[] | undefined;
  /** Host header values accepted, with or without port. */
  allowedHosts?: readonly string[] | undefined;
  /** The gateway's public URL, whose origin and host are always accepted. */
  publicUrl?: string | undefined;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** "host:port" or "[v6]:port" → lower-case host without port. */
function hostOnly(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

/** Why a request's Origin or Host is refused, or undefined when both pass (for originGuard and the /mcp fast lane). */
export function originCheck(
  opts: OriginGuardOptions,
): (origin: string | undefined, host: string | undefined) => string | undefined {
  const origins = new Set((opts.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/$/, '')));
  const hosts = new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase()));
  if (opts.publicUrl) {
    const u = new URL(opts.publicUrl);
    origins.add(u.origin.toLowerCase());
    hosts.add(u.host.toLowerCase());
    hosts.add(u.hostname.toLowerCase());
  }
  for (const o of origins) {
    if (!/^https?:\/\/[^/]+$/.test(o) && o !== 'null')
      throw new Error(`allowed origin ${o} must look like https://host[:port]`);
  }
  const hostAllowed = (h: string): boolean =>
    hosts.has(h.toLowerCase()) || hosts.has(hostOnly(h)) || LOOPBACK.has(hostOnly(h));
  const originAllowed = (o: string): boolean => {
    const lower = o.toLowerCase();
    if (origins.has(lower)) return true;
    try {
      return LOOPBACK.has(new URL(lower).hostname) || LOOPBACK.has(`[${new URL(lower).hostname}]`);
    } catch {
      return false;
    }
  };
  const checkHost = opts.allowedHosts !== undefined || opts.publicUrl !== undefined;
  return (origin, host) => {
    if (origin !== undefined && !originAllowed(origin)) return `Origin ${origin} is not allowed`;
    // With no configured names, only loopback Hosts are trusted: that is what a rebinding attack
    // cannot fake on a loopback-bound gateway, and it is the default bind.
    if (
      host !== undefined &&
      !(checkHost ? hostAllowed(host) : LOOPBACK.has(hostOnly(host)) || isIpLiteral(hostOnly(host)))
    ) {
      return `Host ${host} is not allowed`;
    }
    return undefined;
  };
}

export function originGuard(opts: OriginGuardOptions): MiddlewareHandler {
  const check = originCheck(opts);
  // Not async: passing a request on must not cost a promise of its own (hot path).
  return (c, next) => {
    const problem = check(headerOf(c, 'origin'), headerOf(c, 'host'));
    return problem === undefined ? next() : Promise.resolve(errorResponse(c, 'origin_denied', problem));
  };
}

const isIpLiteral = (h: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.startsWith('[');
