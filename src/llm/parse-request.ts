// The agent's request body, checked before anything is decided on it: its JSON shape is bounded
// before JSON.parse runs (body-shape.ts), and it must name a model. Separate so proxy.ts keeps to the call's flow.
import { scanBody } from './body-shape.js';
import { Refusal } from './refusal.js';

export type Json = Record<string, unknown>;
/** A parsed request body that names its model. */
export type LlmRequest = Json & { model: string };

/** A parsed request body, and how many object keys its text has (duplicate-keys.ts). */
export interface ParsedRequest {
  body: LlmRequest;
  textKeys: number;
}

/** The parsed body, or why it is refused (400). */
export function parseRequest(text: string): ParsedRequest | Refusal {
  const scanned = scanBody(text);
  if (typeof scanned === 'string') return new Refusal(400, `the request body is refused: ${scanned}`);
  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    return new Refusal(400, 'the request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || typeof body.model !== 'string')
    return new Refusal(400, 'the request names no model');
  return { body: body as LlmRequest, textKeys: scanned };
}

/** Whether the agent asked for usage in its stream (`stream_options.include_usage`). */
export function wantsUsage(body: Json): boolean {
  const so = body.stream_options;
  return typeof so === 'object' && so !== null && (so as Json).include_usage === true;
}
