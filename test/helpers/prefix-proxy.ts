/**
 * A reverse proxy on loopback that serves the hub under a path and strips it, as nginx's
 * `location /base/ { proxy_pass http://hub/; proxy_set_header Host $host; }` does: `/base/*` goes
 * to the hub with `/base` taken off and the Host kept; anything else is 404. Like nginx's default
 * `proxy_redirect`, it leaves a root-relative Location as the hub wrote it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const PREFIX = '/base';

export interface PrefixProxy {
  /** `http://HOST:PORT/base`: the hub's public URL, without the trailing slash. */
  base: string;
  /** Where it forwards to; set once the hub listens. */
  upstream: number;
  /** Paths it refused because they are not under the prefix (a browser sent out of the hub's path). */
  unrouted: string[];
  close(): Promise<void>;
}

/** `host` is the name the browser uses for it (the test browser keeps cookies per host name). */
export async function prefixProxy(host = '127.0.0.1'): Promise<PrefixProxy> {
  const unrouted: string[] = [];
  const proxy: PrefixProxy = { base: '', upstream: 0, unrouted, close: async () => {} };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith(`${PREFIX}/`)) {
      unrouted.push(url);
      req.resume();
      res.writeHead(404).end('not routed by the proxy');
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: proxy.upstream, method: req.method, path: url.slice(PREFIX.length), headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.base = `http://${host}:${(server.address() as AddressInfo).port}${PREFIX}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
