/**
 * A browser as far as OAuth flows need one: a cookie jar (host and path scoped, as RFC 6265
 * says; like browsers, it ignores ports), redirects read instead of followed, and forms posted.
 * Two instances are two browsers — two users, or a victim and an attacker.
 */
export interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
}

export interface AuthorizeOptions {
  /** The account to sign in as at the provider. */
  login: string;
  /** Approve (default) or cancel at the consent page. */
  consent?: 'approve' | 'deny';
  /** Where the walk stops: the first redirect to a URL this accepts is returned, not opened. */
  stopAt?: (url: URL) => boolean;
}

const isCallback = (url: URL) => url.pathname.endsWith('/oauth/callback');

/** RFC 6265 §5.1.4 */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function defaultPath(requestPath: string): string {
  const i = requestPath.lastIndexOf('/');
  return i <= 0 ? '/' : requestPath.slice(0, i);
}

const unescapeHtml = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&#x2F;/gi, '/')
    .replace(/&#x3D;/gi, '=')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");

/** The hidden fields of the hub's confirmation form (link and csrf), if this page is one. */
export function hubConfirmation(html: string): Record<string, string> | undefined {
  const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)].map((m) => [m[1]!, unescapeHtml(m[2]!)]));
  return typeof fields['link'] === 'string' && typeof fields['csrf'] === 'string' ? { link: fields['link'], csrf: fields['csrf'] } : undefined;
}

export class Browser {
  private jar: Cookie[] = [];

  get cookies(): readonly Cookie[] {
    return this.jar;
  }

  get(url: string): Promise<Response> {
    return this.request(url, 'GET');
  }

  post(url: string, form: Record<string, string>): Promise<Response> {
    return this.request(url, 'POST', new URLSearchParams(form));
  }

  /**
   * Opens `startUrl` and walks the provider's sign-in and consent pages until a redirect points
   * at the client's callback; returns that URL unopened, so a test decides where it is opened.
   */
  async authorize(startUrl: string, opts: AuthorizeOptions): Promise<string> {
    const stop = opts.stopAt ?? isCallback;
    let url = new URL(startUrl);
    let res = await this.get(url.href);
    for (let step = 0; step < 20; step++) {
      if (res.status >= 300 && res.status < 400) {
        const location = res.headers.get('location');
        await res.body?.cancel();
        if (location === null) throw new Error(`redirect without a location from ${url.href}`);
        url = new URL(location, url);
        if (stop(url)) return url.href;
        res = await this.get(url.href);
        continue;
      }
      const html = await res.text();
      if (res.status !== 200) throw new Error(`${res.status} from ${url.href}: ${html.slice(0, 800)}`);
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const hub = hubConfirmation(html);
      if (action !== undefined && hub !== undefined) {
        // The hub's own step: it names the hub user; the user confirms with its form.
        const submit = new URL(unescapeHtml(action), url);
        res = await this.post(submit.href, hub);
        url = submit;
        continue;
      }
      if (action === undefined || prompt === undefined) throw new Error(`no sign-in or consent form at ${url.href}: ${html.slice(0, 800)}`);
      const submit = new URL(unescapeHtml(action), url);
      if (prompt === 'login') {
        res = await this.post(submit.href, { prompt: 'login', login: opts.login, password: 'any password' });
      } else if (prompt === 'consent' && opts.consent === 'deny') {
        // The page's cancel link: `<submitUrl>/abort` ends the request with access_denied.
        res = await this.get(new URL(`${submit.pathname}/abort`, submit).href);
      } else if (prompt === 'consent') {
        res = await this.post(submit.href, { prompt: 'consent' });
      } else {
        throw new Error(`unexpected prompt ${prompt} at ${url.href}`);
      }
      url = submit;
    }
    throw new Error(`no redirect to the callback after 20 steps (last: ${url.href})`);
  }

  private async request(href: string, method: 'GET' | 'POST', body?: URLSearchParams): Promise<Response> {
    const url = new URL(href);
    const headers = new Headers();
    const cookie = this.jar
      .filter((c) => c.host === url.hostname && pathMatches(url.pathname, c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    if (cookie) headers.set('cookie', cookie);
    if (body) headers.set('content-type', 'application/x-www-form-urlencoded');
    const res = await fetch(url, { method, headers, redirect: 'manual', ...(body ? { body } : {}) });
    for (const line of res.headers.getSetCookie()) this.store(url, line);
    return res;
  }

  private store(url: URL, line: string): void {
    const [pair = '', ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let path = defaultPath(url.pathname);
    let expired = false;
    for (const attr of attrs) {
      const [k = '', v = ''] = attr.split('=').map((s) => s.trim());
      const key = k.toLowerCase();
      if (key === 'path' && v.startsWith('/')) path = v;
      if (key === 'max-age' && Number(v) <= 0) expired = true;
      if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
    }
    this.jar = this.jar.filter((c) => !(c.name === name && c.host === url.hostname && c.path === path));
    if (!expired) this.jar.push({ name, value, host: url.hostname, path });
  }
}
