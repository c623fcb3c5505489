import { redact } from '../../agents/scrub.js';
import { substitutedIn } from '../../config/interpolate.js';

/**
 * The values of a downstream server's config entry that what the hub shows of the server's output
 * (its stderr, an HTTP error page) must not carry to a caller, /readyz, `doctor` or the log: what
 * the operator gives it to authenticate — its env, its HTTP headers — and every value a `${NAME}`
 * put into the entry, wherever it went (a key passed as `--api-key ${KEY}`, a URL's query).
 */

/**
 * Shorter values are left alone: an entry's env and `${…}` values hold settings too (PORT=8080,
 * LOG_LEVEL=debug), and scrubbing those would cut ordinary words out of every line.
 */
const MIN_SECRET_CHARS = 6;

/** `Bearer abc`, `Basic abc`: an error page may quote the credential without its scheme. */
const SCHEME = /^[A-Za-z][\w-]*\s+(\S.*)$/;

/** A stdio server's: its env's values and what was substituted into its command line, env or cwd. */
export function stdioSecrets(c: { command: string; args: readonly string[]; env: Record<string, string>; cwd?: string | undefined }): string[] {
  const env = Object.values(c.env);
  return worthScrubbing([...env, ...substitutedIn([c.command, ...c.args, ...env, ...(c.cwd === undefined ? [] : [c.cwd])])]);
}

/** An HTTP server's: its headers' values (with and without a scheme) and what was substituted into them or its URL. */
export function httpSecrets(url: URL, headers: Record<string, string>): string[] {
  const values = Object.values(headers);
  const credentials = values.flatMap((v) => SCHEME.exec(v)?.slice(1) ?? []);
  return worthScrubbing([...values, ...credentials, ...substitutedIn([url.href, decoded(url.href), ...values])]);
}

/** Replaces each of `secrets` in a text with `[redacted]`, the longest first. */
export function scrubberOf(secrets: readonly string[]): (text: string) => string {
  return secrets.length === 0 ? (text) => text : (text) => redact(text, secrets);
}

function worthScrubbing(values: readonly string[]): string[] {
  return [...new Set(values)].filter((v) => v.length >= MIN_SECRET_CHARS);
}

/** A substituted value is in a URL percent-encoded when it holds characters a URL may not. */
function decoded(href: string): string {
  try {
    return decodeURIComponent(href);
  } catch {
    return href;
  }
}
