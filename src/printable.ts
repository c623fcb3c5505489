const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
// C0 and DEL, C1, the line and paragraph separators, the bidi marks, embeddings, overrides and isolates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with the characters a terminal or a page acts on instead of showing escaped, as JSON
 * would write them (`\n`, `\u001b`). Labels, client names (RFC 7591 registration is open to
 * anyone), account ids and error texts come from outside: unescaped, a newline fakes a row of a
 * listing, ESC sequences recolour the screen, move the cursor or set the clipboard, and bidi
 * overrides show text in another order than it is (CVE-2021-42574, "Trojan Source"): "My App
 * ‮exe.tpircs‬" reads "My App script.exe".
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
