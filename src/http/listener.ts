import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HubConfig } from '../config/schema.js';
import { answerClientErrors } from './client-error.js';
import { writeJson, writeRefusal } from './json.js';
import { applyServerLimits, closeIfBodyUnread, connectionsCheckingInterval } from './limits.js';
import { refusedTarget } from './request-target.js';
import { exposure, hostAndOriginGuard } from './security.js';

/** The hub's HTTP listener, bound: `port` is the one the OS gave it when 0 was asked for. */
export interface HttpListener {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** Hands requests to `app` instead of the "starting" answer given until then. */
  serve(app: RequestListener): void;
  /** Closes the listener and every connection on it. */
  close(): Promise<void>;
}

/**
 * Binds the hub's listener on `server.host:server.port` (or `at`), with the connection limits Node
 * enforces. Port 0 lets the OS pick: the port is read from the bound socket, never probed first
 * (a port found free and released can be taken by another process before it is bound again).
 * Until `serve` is called, requests get 503: what /readyz says while the hub starts (`starting`) on
 * /healthz and /readyz, `hub_starting` in the route's error shape elsewhere.
 */
export async function bindHttp(server: HubConfig['server'], at: { port?: number; host?: string } = {}): Promise<HttpListener> {
  const port = at.port ?? server.port;
  const host = at.host ?? server.host;
  // Without Host, Node answers 400 with an empty body; the guard says why, in the hub's shape.
  const http = createServer({ connectionsCheckingInterval: connectionsCheckingInterval(server.limits), requireHostHeader: false });
  applyServerLimits(http, server.limits);
  answerClientErrors(http);
  // Host and Origin are checked first, as they are once the hub serves: a page rebound to this
  // address learns nothing from a hub that is starting either.
  let guard: ReturnType<typeof hostAndOriginGuard> | undefined;
  const starting: RequestListener = (req, res) => {
    if (refusedTarget(req, res)) return;
    guard?.(req, res, () => {
      res.setHeader('retry-after', '1');
      closeIfBodyUnread(req, res);
      const path = (req.url ?? '').split('?')[0];
      if (path === '/healthz' || path === '/readyz') return writeJson(res, 503, { status: 'starting' });
      // In the route's own shape: an MCP client reads a JSON-RPC error, any other caller the hub's.
      writeRefusal(req, res, 'hub_starting', 'the hub is starting; try again in a second');
    });
  };
  http.on('request', starting);
  await new Promise<void>((res, rej) => {
    http.once('error', rej);
    http.listen(port, host, () => {
      http.off('error', rej);
      res();
    });
  });
  const bound = (http.address() as AddressInfo).port;
  guard = hostAndOriginGuard(exposure({ server: { ...server, host } }, bound));
  return {
    server: http,
    host,
    port: bound,
    serve(app) {
      http.off('request', starting);
      http.on('request', app);
    },
    close: () =>
      new Promise<void>((res) => {
        http.closeAllConnections();
        http.close(() => res());
      }),
  };
}
