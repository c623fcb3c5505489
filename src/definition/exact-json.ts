/**
 * JSON with integers kept as sent. JSON.parse turns 9007199254740993 into 9007199254740992, so two
 * provider ids above 2^53 (Twitter/X ids, Shopify's) would read as one and dedupe each other away.
 * Node 20's JSON.parse gives a reviver no source text, so the text is scanned first: an integer
 * literal of 16 digits or more, outside a string, is rewritten as a string carrying a per-process
 * random mark before the parse. The ids read off the result (`scalarText`) are the literal's text;
 * `stringifyExact` writes the literal back unquoted. A sender cannot forge the mark: it never
 * sees it. Bodies without such literals (nearly all) take JSON.parse alone.
 */
// Web Crypto's global, not node:crypto: src/definition/ is a leaf that imports only zod.
const MARK = `__exact_${Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')}:`;
const MARKED = new RegExp(`"${MARK}(-?[0-9]+)"`, 'g');

/** Where the long integer literals outside strings are, or [] when there are none. */
function longIntegers(text: string): Array<[start: number, end: number]> {
  const out: Array<[number, number]> = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escapes.
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < text.length && /[0-9.eE+-]/.test(text[i] as string)) i++;
      const literal = text.slice(start, i);
      if (/^-?[0-9]{16,}$/.test(literal) && !Number.isSafeInteger(Number(literal))) out.push([start, i]);
    } else i++;
  }
  return out;
}

/** JSON.parse, except that integers past 2^53 keep their digits for `scalarText`. Throws as JSON.parse does. */
export function parseExact(text: string): unknown {
  const spans = longIntegers(text);
  if (spans.length === 0) return JSON.parse(text);
  let rewritten = '';
  let at = 0;
  for (const [start, end] of spans) {
    rewritten += `${text.slice(at, start)}"${MARK}${text.slice(start, end)}"`;
    at = end;
  }
  return JSON.parse(rewritten + text.slice(at));
}

/** An id or cursor as text, exactly as sent: strings, and finite numbers (a long integer's own digits). */
export function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') {
    if (v.startsWith(MARK)) return v.slice(MARK.length);
    return v === '' ? undefined : v;
  }
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
}

/** JSON.stringify of what parseExact read, the long integers written back as the numbers they were. */
export function stringifyExact(v: unknown, space?: number): string {
  const text = JSON.stringify(v, null, space);
  return text.includes(MARK) ? text.replace(MARKED, '$1') : text;
}

/**
 * What parseExact read, as plain data for a reader that takes a JS value and not text (an MCP
 * tool's structuredContent): each long integer becomes a string of its digits. A number would be
 * rounded again on the way out, and the mark is this process's secret, not data.
 */
export function plainExact(v: unknown): unknown {
  const text = JSON.stringify(v);
  // undefined for a value JSON has no text for (undefined itself): nothing to rewrite.
  return text?.includes(MARK) ? JSON.parse(text.replace(MARKED, '"$1"')) : v;
}
