import { z } from 'zod';

/**
 * An `apiBaseUrl` with placeholders, filled per connection with values learned when the account is
 * linked: Jira Cloud's `https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3` (the site's cloud
 * id), Salesforce's `{instanceUrl}/services/data/v61.0` (the org's instance URL). A placeholder
 * stands for the whole origin, at the start, or sits in the path, where its value is one
 * percent-encoded segment; never in the scheme, host or port, whose parts a value could rewrite.
 */

const PLACEHOLDER = /\{([^{}]*)\}/g;
const VALUE_NAME = /^[A-Za-z0-9_]+$/;
/** What stands in for a value when the template is checked as a URL. */
const SAMPLE_ORIGIN = 'https://origin.invalid';
const SAMPLE_SEGMENT = 'x';

/** The placeholders of an apiBaseUrl, in order (none for a fixed base). */
export function placeholdersOf(apiBaseUrl: string): string[] {
  return [...apiBaseUrl.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** The placeholder that stands for the whole origin (`{instanceUrl}/…`), if one does. */
export function originPlaceholder(apiBaseUrl: string): string | undefined {
  const m = /^\{([A-Za-z0-9_]+)\}/.exec(apiBaseUrl);
  return m?.[1];
}

/** Why a template cannot be filled safely; undefined when it can (a base without placeholders too). */
function templateProblem(s: string): string | undefined {
  const names = placeholdersOf(s);
  for (const n of names) if (!VALUE_NAME.test(n)) return `{${n}} is no placeholder: a placeholder's name is letters, digits and _`;
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) return `{${twice}} appears twice: each placeholder may appear once`;
  if (/[{}]/.test(s.replace(PLACEHOLDER, ''))) return 'has a { or } that is no {name} placeholder';
  const origin = originPlaceholder(s);
  if (origin !== undefined) {
    const rest = s.slice(origin.length + 2);
    if (rest !== '' && !rest.startsWith('/')) return `{${origin}} at the start stands for the whole origin (scheme, host and port): write {${origin}}/path`;
    return undefined;
  }
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(s)?.[0] ?? '';
  if (authority.includes('{') || markedOutsidePath(s)) return IN_AUTHORITY;
  return undefined;
}

const IN_AUTHORITY =
  'a placeholder stands for the whole origin ({instanceUrl}/services/data) or sits in the path (https://api.example.com/ex/{cloudId}), never in the scheme, host or port';
/** Stands in for a path placeholder when the template is parsed as the URL parser will read it. */
const MARK = 'zqplaceholderqz';

/**
 * Whether the URL parser reads a path placeholder as part of the host or anything else but the
 * path: `https:///{site}/rest` has an empty authority as written, yet WHATWG parsing skips the
 * extra slash and makes `{site}` the host, so a learned value would name where the token goes.
 */
function markedOutsidePath(s: string): boolean {
  const sample = s.replace(PLACEHOLDER, () => MARK);
  if (!URL.canParse(sample)) return false;
  const u = new URL(sample);
  return [u.protocol, u.username, u.password, u.host, u.search, u.hash].some((part) => part.toLowerCase().includes(MARK));
}

/** The template with sample values, to be checked as the URL it will be. */
function sampleOf(s: string): string {
  const origin = originPlaceholder(s);
  return s.replace(PLACEHOLDER, (_, name: string) => (name === origin ? SAMPLE_ORIGIN : SAMPLE_SEGMENT));
}

/** An apiBaseUrl as `plain` checks a fixed one, placeholders allowed where they are safe. */
export function apiBaseUrlSchema(plain: z.ZodType<string>) {
  return z.string().superRefine((s, ctx) => {
    const problem = templateProblem(s);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: problem });
      return;
    }
    const r = plain.safeParse(sampleOf(s));
    if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message });
  });
}

/**
 * The hosts a learned origin may name: `acme.my.salesforce.com`, `*.my.salesforce.com` (any name
 * under it, not itself), each with `:port` to allow that port alone.
 */
export const allowedHostsSchema = z
  .array(
    z
      .string()
      .regex(
        /^(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/,
        'a host name (api.example.com), *. and a domain (*.my.salesforce.com), or either with :port',
      ),
  )
  .min(1);

/** Whether a URL's host (and port) is one `allowedHosts` names. */
export function hostAllowed(url: URL, patterns: readonly string[]): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return patterns.some((p) => {
    const m = /^(.*?)(?::(\d+))?$/.exec(p.toLowerCase())!;
    const [name = '', only] = [m[1], m[2]];
    if (only !== undefined && Number(only) !== Number(port)) return false;
    if (name.startsWith('*.')) return host.endsWith(name.slice(1)) && host.length > name.length - 1;
    return host === name;
  });
}

/** A loopback host, where the hub takes http as it does for an identity provider. */
function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * A learned value checked for its place in the base: an origin must be an https origin (http on
 * loopback) with nothing else, on a host `allowedHosts` names when it names any; a path value is
 * one segment, never empty nor `.`/`..` (which a URL parser would resolve, climbing out of the
 * base). Returns the value to store (an origin in its normal form) or why it is refused.
 */
export function checkedValue(
  name: string,
  raw: string,
  apiBaseUrl: string,
  allowedHosts: readonly string[] | undefined,
): { ok: true; value: string } | { ok: false; why: string } {
  if (name !== originPlaceholder(apiBaseUrl)) {
    if (raw === '' || /^\.+$/.test(raw)) return { ok: false, why: `${name} ${JSON.stringify(raw)} cannot be a path segment` };
    return { ok: true, value: raw };
  }
  if (!URL.canParse(raw)) return { ok: false, why: `${name} ${JSON.stringify(raw)} is not a URL` };
  const u = new URL(raw);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u)))
    return { ok: false, why: `${name} ${JSON.stringify(raw)} is not an https URL (http is taken on loopback only)` };
  if (u.username !== '' || u.password !== '' || (u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '')
    return { ok: false, why: `${name} ${JSON.stringify(raw)} is not an origin alone (it has a path, query, fragment or user name)` };
  if (allowedHosts !== undefined && !hostAllowed(u, allowedHosts))
    return { ok: false, why: `${name} ${JSON.stringify(raw)} names a host allowedHosts does not list (${allowedHosts.join(', ')})` };
  return { ok: true, value: u.origin };
}

/**
 * The base URL of one connection: each placeholder replaced by its value (an origin as stored,
 * a path value percent-encoded as one segment). Undefined when a value is missing: such a base
 * must never be called (a connection linked before its integration named the value).
 */
export function filledBase(apiBaseUrl: string, values: Readonly<Record<string, string>>): string | undefined {
  const origin = originPlaceholder(apiBaseUrl);
  let missing = false;
  const filled = apiBaseUrl.replace(PLACEHOLDER, (_, name: string) => {
    const v = Object.hasOwn(values, name) ? values[name] : undefined;
    if (v === undefined) {
      missing = true;
      return '';
    }
    return name === origin ? v : encodeURIComponent(v);
  });
  return missing ? undefined : filled;
}

/** The names of the placeholders a connection has no value for (empty for a fixed base). */
export function missingValues(apiBaseUrl: string, values: Readonly<Record<string, string>>): string[] {
  return placeholdersOf(apiBaseUrl).filter((n) => !Object.hasOwn(values, n));
}
