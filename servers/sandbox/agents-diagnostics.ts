import type { Request, RequestHandler, Response } from 'express';

/**
 * Who may read the sandbox agents' diagnostics (`/_stats`, `/_callbacks`, `…/release`). They
 * list what each caller sent: session identities (with one and the public Kore key, anyone could
 * read that user's memory agent), the hub's callback URLs (for an unsigned Kore callback the URL
 * is the credential) and request bodies. The hub serves the sandbox without a hub token, even
 * when it listens beyond loopback, so the routes guard themselves; both of these are required:
 *
 * - The marketplace's own key, as its agents take it. The sandbox keys are public, so this is not
 *   secrecy: it makes every diagnostic request carry a header a web page cannot send across
 *   origins without a CORS preflight the sandbox never grants, so a page the developer opens
 *   can neither read the stats nor release a held callback (a cross-site form POST).
 * - A local caller: the socket's peer is loopback (the socket, not `req.ip`, which a client sets
 *   with X-Forwarded-For when the app trusts proxies), the Host names loopback, and no proxy
 *   header is present. A reverse proxy or tunnel on the same machine connects from loopback too,
 *   but relays strangers; it says so with Forwarded or X-Forwarded-For, or the public host name.
 *
 * The tests and demos that read diagnostics run on the machine that runs the hub, so they lose
 * nothing; a stranger on the network never has a loopback peer.
 */
export function diagnosticsOnly(o: { keyOk: (req: Request) => boolean; deny: (res: Response, status: 401 | 403, message: string) => void }): RequestHandler {
  return (req, res, next) => {
    if (!isLocal(req)) return o.deny(res, 403, 'diagnostics answer only requests made on this machine (loopback, no proxy)');
    if (!o.keyOk(req)) return o.deny(res, 401, "diagnostics need the marketplace's key");
    next();
  };
}

const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via'];

function isLocal(req: Request): boolean {
  if (!isLoopbackAddress(req.socket.remoteAddress ?? '')) return false;
  if (PROXY_HEADERS.some((h) => req.headers[h] !== undefined)) return false;
  const host = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(req.headers.host ?? '')?.[1]?.toLowerCase() ?? '';
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

function isLoopbackAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127(?:\.\d{1,3}){3}$/.test(v4);
}
