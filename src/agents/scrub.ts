/**
 * Secrets (API keys, webhook secrets, credential header values) replaced wherever they appear in
 * what goes back to a caller or into the store: an agent that echoes its request, or an error body
 * that quotes it, must not hand them to the model or leave them on disk.
 */

const CENSOR = '[redacted]';

/** Shorter values are not scrubbed: a three-letter "secret" would cut words out of every answer. */
const MIN_SECRET_CHARS = 4;

/** The secrets worth looking for, longest first (a secret that contains another is replaced whole). */
export function liveSecrets(secrets: readonly string[]): string[] {
  return [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_CHARS).sort((a, b) => b.length - a.length);
}

function scrubString(text: string, live: readonly string[]): string {
  let out = text;
  for (const s of live) if (out.includes(s)) out = out.split(s).join(CENSOR);
  return out;
}

/** `value` with every secret replaced; walks it only when its JSON holds one of them. */
export function redact<T>(value: T, secrets: readonly string[]): T {
  const live = liveSecrets(secrets);
  if (live.length === 0) return value;
  if (typeof value === 'string') return scrubString(value, live) as T;
  const json = JSON.stringify(value);
  if (json === undefined || !live.some((s) => json.includes(JSON.stringify(s).slice(1, -1)))) return value;
  const scrub = (v: unknown): unknown => {
    if (typeof v === 'string') return scrubString(v, live);
    if (Array.isArray(v)) return v.map(scrub);
    // Names too: an answer may key a map by what it was sent (usage per API key).
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [scrubString(k, live), scrub(x)]));
    return v;
  };
  return scrub(value) as T;
}

/** How many characters at the end of `text` could be the start of a secret still arriving. */
function pendingTail(text: string, live: readonly string[]): number {
  let longest = 0;
  for (const s of live) {
    // Only a proper prefix: a whole secret was replaced already.
    for (let k = Math.min(s.length - 1, text.length); k > longest; k--) {
      if (text.charCodeAt(text.length - k) === s.charCodeAt(0) && text.endsWith(s.slice(0, k))) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}

export interface StreamScrubber {
  /** What of the text so far may go out now; the tail that could begin a secret waits for the next piece. */
  push(text: string): string;
  /** What was held back, scrubbed: the stream ended (or something else comes between). */
  end(): string;
}

/**
 * Scrubs text that arrives in pieces (streamed tokens). Each piece alone would miss a secret split
 * across two of them, which is the usual case: a model emits a key as several short tokens.
 */
export function streamScrubber(secrets: readonly string[]): StreamScrubber {
  const live = liveSecrets(secrets);
  let held = '';
  return {
    push(text) {
      if (live.length === 0) return text;
      const all = scrubString(held + text, live);
      const keep = pendingTail(all, live);
      held = all.slice(all.length - keep);
      return all.slice(0, all.length - keep);
    },
    end() {
      const out = scrubString(held, live);
      held = '';
      return out;
    },
  };
}
