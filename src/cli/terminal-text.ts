// Text that agents, upstreams or whoever wrote a log file chose (tool names, agent ids, reasons,
// error messages, checkpoint fields), made inert before the CLI prints it on an operator's terminal.
// Raw, an ESC or C1 byte starts a control sequence: `\x1b]52;c;…` writes the clipboard, `\x1b[2K\r`
// or `\r` erases the line and prints a forged one (an "OK" over a "BROKEN", a hidden injection
// warning), a `\n` adds a whole fake record, and bidi controls reorder what is shown. Each such
// character is shown as its escape instead (`\u001b`, `\n`), as JSON would spell it.

/** C0 controls, DEL, C1 controls, line/paragraph separators and bidi controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** What JSON.stringify leaves raw inside strings (it escapes C0 itself; raw `\n` there is layout). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const escaped = (c: string): string => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One value, as one line of plain text with every control character spelled out. */
export function printable(s: string): string {
  return s.replace(UNSAFE, escaped);
}

/**
 * JSON text for a terminal: JSON.stringify already escapes C0 controls, but leaves DEL, C1 and bidi
 * controls raw. They can only stand inside strings there, so escaping them keeps the same JSON value.
 */
export function printableJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, escaped);
}
