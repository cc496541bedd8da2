// Server-sent events as they pass through: split into whole events without decoding them, look
// only at the few that carry usage or end the stream, and forward the rest byte for byte. Markers
// are looked for in the chunk's latin1 text (one character per byte, so offsets are byte offsets,
// and no byte of a multi-byte UTF-8 character reads as ASCII): one conversion per chunk instead of a
// Buffer.indexOf call per marker and event (~12 µs for a short completion's six events, measured).
import { usageOf, type Usage } from './dialect.js';
import type { ApiKind } from './runtime.js';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits off the complete events (each with its terminating blank line) and the incomplete rest;
 * `text` is `buf` as latin1, and `texts` each event's.
 */
export function splitEvents(buf: Buffer, text: string): { events: Buffer[]; texts: string[]; rest: Buffer } {
  const out: Buffer[] = [];
  const texts: string[] = [];
  let start = 0;
  let i = text.indexOf('\n');
  while (i !== -1) {
    const next = text.charCodeAt(i + 1);
    const end = next === LF ? i + 2 : next === CR && text.charCodeAt(i + 2) === LF ? i + 3 : -1;
    if (end !== -1) {
      out.push(buf.subarray(start, end));
      texts.push(text.slice(start, end));
      start = end;
      i = text.indexOf('\n', end);
    } else {
      i = text.indexOf('\n', i + 1);
    }
  }
  return { events: out, texts, rest: start === buf.length ? EMPTY : buf.subarray(start) };
}

const EMPTY = Buffer.alloc(0);

/** The `data` of an event (lines joined), and its `event` name. */
export function fieldsOf(ev: Buffer): { event: string | undefined; data: string } {
  let event: string | undefined;
  const data: string[] = [];
  for (const raw of ev.toString('utf8').split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
    else if (line.startsWith('event:')) event = line.slice(line[6] === ' ' ? 7 : 6);
  }
  return { event, data: data.join('\n') };
}

/** Watches a stream's events: captures usage, flags the final event, rewrites what must change. */
export interface StreamInspector {
  usage: Usage | undefined;
  /** An error event came through (the call failed after it started). */
  errored: boolean;
  /** The event to forward in place of `ev` (the same buffer when unchanged), or null to drop it; `text`: `ev` as latin1. */
  inspect(ev: Buffer, text: string): Buffer | null;
  /** Whether `ev` ends the stream (audit and settle before it is released). */
  isFinal(ev: Buffer, text: string): boolean;
}

const USAGE = '"usage"';
const USAGE_NULL = ',"usage":null';
const DONE = '[DONE]';
const ERROR_START = '{"error"';

/**
 * OpenAI chat streams. We always ask for usage (`stream_options.include_usage`); when the agent did
 * not, the usage-only chunk and the `"usage":null` each other chunk then carries are removed, so it
 * gets the stream it asked for.
 */
export function openaiInspector(agentWantsUsage: boolean): StreamInspector {
  const self: StreamInspector = {
    usage: undefined,
    errored: false,
    inspect(ev, text) {
      if (text.indexOf(ERROR_START) !== -1 && fieldsOf(ev).data.startsWith('{"error"')) self.errored = true;
      if (text.indexOf(USAGE) === -1) return ev;
      const nulled = text.indexOf(USAGE_NULL);
      if (nulled !== -1)
        return agentWantsUsage ? ev : Buffer.concat([ev.subarray(0, nulled), ev.subarray(nulled + USAGE_NULL.length)]);
      let chunk: { usage?: unknown; choices?: unknown };
      try {
        chunk = JSON.parse(fieldsOf(ev).data) as typeof chunk;
      } catch {
        return ev;
      }
      const u = usageOf('openai', chunk.usage);
      if (!u) return ev;
      self.usage = u;
      return agentWantsUsage || (Array.isArray(chunk.choices) && chunk.choices.length > 0) ? ev : null;
    },
    isFinal(ev, text) {
      return text.indexOf(DONE) !== -1 && fieldsOf(ev).data === '[DONE]';
    },
  };
  return self;
}

const MESSAGE_ = 'message_';
const ERROR_EVENT = 'event: error';

/** Anthropic message streams: usage from `message_start` and (cumulative) `message_delta`. */
export function anthropicInspector(): StreamInspector {
  const self: StreamInspector = {
    usage: undefined,
    errored: false,
    inspect(ev, text) {
      // Only message_* and error events matter; content deltas are forwarded without parsing.
      const at = text.indexOf(MESSAGE_);
      if (at === -1 || at > 32) {
        if (text.startsWith(ERROR_EVENT)) self.errored = true;
        return ev;
      }
      const f = fieldsOf(ev);
      let v: { type?: string; message?: { usage?: unknown }; usage?: Record<string, unknown> };
      try {
        v = JSON.parse(f.data) as typeof v;
      } catch {
        return ev;
      }
      if (v.type === 'message_start') self.usage = usageOf('anthropic', v.message?.usage) ?? self.usage;
      else if (v.type === 'message_delta' && v.usage) {
        const prev = self.usage ?? { input: 0, output: 0 };
        const d = usageOf('anthropic', v.usage)!;
        // Deltas carry the cumulative output count, and input counts only when they were unknown.
        self.usage = {
          input: 'input_tokens' in v.usage ? Math.max(prev.input, d.input) : prev.input,
          output: d.output,
        };
      }
      return ev;
    },
    isFinal(ev, text) {
      const at = text.indexOf(MESSAGE_);
      return at !== -1 && at <= 32 && fieldsOf(ev).event === 'message_stop';
    },
  };
  return self;
}

export function inspectorFor(kind: ApiKind, agentWantsUsage: boolean): StreamInspector {
  return kind === 'anthropic' ? anthropicInspector() : openaiInspector(agentWantsUsage);
}
