// Bounded HTTP for the OAuth client: what an upstream or its authorization server answers is hostile
// (size, time, shape), and only http(s) URLs are followed.
import { fetch as undiciFetch } from 'undici';
import { GatewayError } from '../errors.js';
import { checkLiteral, reachAgent, ReachRefused, type Reach } from './reach.js';

const MAX_BYTES = 256 * 1024;
const TIMEOUT_MS = 15_000;

export interface JsonAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | undefined;
}

export function checkUrl(url: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new GatewayError('upstream_bad_response', `${what} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new GatewayError('upstream_bad_response', `${what} must be http(s)`);
  if (u.username || u.password) throw new GatewayError('upstream_bad_response', `${what} must not carry credentials`);
  return u;
}

async function readCappedText(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BYTES) {
      await reader.cancel();
      throw new GatewayError('upstream_bad_response', 'authorization server answer too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * One request; JSON object body when there is one. Never follows redirects. With `reach` (a URL the
 * upstream named, not the operator), only to public addresses or the hosts it allows (reach.ts).
 */
export async function fetchJson(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; what: string; reach?: Reach | undefined },
): Promise<JsonAnswer> {
  const u = checkUrl(url, init.what);
  const request = {
    method: init.method ?? 'GET',
    headers: { accept: 'application/json', ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
    redirect: 'manual' as const,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  };
  const agent = init.reach && reachAgent(init.reach);
  try {
    let res: Response;
    try {
      if (init.reach) checkLiteral(u, init.reach);
      res = agent
        ? ((await undiciFetch(url, { ...request, dispatcher: agent })) as unknown as Response)
        : await fetch(url, request);
    } catch (err) {
      const refused = err instanceof ReachRefused ? err : (err as { cause?: unknown }).cause;
      if (refused instanceof ReachRefused)
        throw new GatewayError('upstream_bad_response', `${init.what}: ${refused.message}`);
      throw new GatewayError('upstream_unavailable', `${init.what}: ${(err as Error).message}`);
    }
    return await answerOf(res);
  } finally {
    void agent?.destroy().catch(() => undefined);
  }
}

async function answerOf(res: Response): Promise<JsonAnswer> {
  const text = await readCappedText(res);
  let body: Record<string, unknown> | undefined;
  try {
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body };
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
export const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

export function form(values: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined) p.set(k, v);
  return p.toString();
}
