/**
 * Where the sandbox agents may send an async answer. They answer anyone holding the public
 * sandbox keys, so a callback URL taken as given would let a stranger have the sandbox POST to
 * any address (a private service, a cloud metadata endpoint) and, with duplicates, many times.
 * Only the shape of a hub's own callback URL is accepted: the hub builds it as
 * `<publicUrl>/agents/callback/<task id>` (src/agents/tasks/service.ts), its task id `at_` and 22
 * base64url characters (src/agents/tasks/callback.ts). `publicUrl` may carry a path behind a
 * proxy, so the shape may follow a path prefix. The host is not checked: the marketplace may run
 * in another process than the hub it answers (bench/agents.ts), so it cannot know the hub's origin.
 */

const CALLBACK_PATH = /^(?:\/[^/]+)*\/agents\/callback\/at_[A-Za-z0-9_-]{22}$/;

/** What is wrong with a callback URL, or undefined when it has the shape of a hub's. */
export function callbackUrlProblem(raw: string): string | undefined {
  const refused = 'must be a hub callback URL: http(s)://<host>[/<path>]/agents/callback/at_<22 characters>, with no credentials, query or fragment';
  if (raw.length > 2_048) return refused;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refused;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return refused;
  // `?` or `#` with nothing after them parse to an empty search or hash: read the raw text too.
  if (url.username !== '' || url.password !== '' || raw.includes('?') || raw.includes('#')) return refused;
  return CALLBACK_PATH.test(url.pathname) ? undefined : refused;
}
