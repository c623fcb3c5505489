import type { HubError } from '../errors.js';

/**
 * An error's words under the integration's title, as a caller reads them: "GitHub: …". The
 * provider client already names the title in its own words ("GitHub redirected …"), which are
 * not prefixed twice.
 */
export function titled(title: string, message: string): string {
  return message.startsWith(`${title} `) || message.startsWith(`${title}:`) ? message : `${title}: ${message}`;
}

/**
 * A hub error's words, with why the provider could not be reached when that is what it says: fetch
 * rejects with "fetch failed" and the system error under it ("connect ECONNREFUSED 127.0.0.1:443",
 * "getaddrinfo ENOTFOUND api.acme.test", a certificate refused), which is what tells a wrong
 * apiBaseUrl from a provider that is down. Host and port only: no path, query or credential.
 */
export function withCause(err: HubError): string {
  if (err.code !== 'provider_unreachable') return err.message;
  let e: unknown = err.cause;
  for (let depth = 0; e instanceof Error && e.cause instanceof Error && depth < 5; depth++) e = e.cause;
  // Only a system or TLS error's words: another's (a header value refused by fetch) may quote a credential.
  const code = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
  if (!(e instanceof Error) || code === undefined || !SYSTEM_OR_TLS.test(code)) return err.message;
  return `${err.message} (${e.message || code})`;
}

/** errno codes (ECONNREFUSED, ENOTFOUND, EAI_AGAIN, …, not Node's ERR_*) and OpenSSL's certificate and TLS ones. */
const SYSTEM_OR_TLS =
  /^(?:E(?!RR_)[A-Z_]+|ERR_TLS_[A-Z_]+|ERR_SSL_[A-Z_]+|CERT_[A-Z_]+|UNABLE_TO_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)$/;
