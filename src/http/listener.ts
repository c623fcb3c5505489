import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HubConfig } from '../config/schema.js';
import { HubError } from '../errors.js';
import { answerClientErrors } from './client-error.js';
import { continueOnRead } from './expect-continue.js';
import { writeJson, writeRefusal } from './json.js';
import { applyServerLimits, closeIfBodyUnread, connectionsCheckingInterval } from './limits.js';
import { refusedTarget } from './request-target.js';
import { expressBornMessages, type HttpApp } from './express-born.js';
import { exposure, hostAndOriginGuard } from './security.js';

/** The hub's HTTP listener, bound: `port` is the one the OS gave it when 0 was asked for. */
export interface HttpListener {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** Hands requests to `app` instead of the "starting" answer given until then; they are born with its prototypes. */
  serve(app: HttpApp): void;
  /**
   * Stops accepting connections and closes the idle ones at once; a request being served gets up to
   * `DRAIN_MS` to finish (its answer says `Connection: close`), then every connection is cut.
   */
  close(): Promise<void>;
}

/**
 * How long a stopping hub lets requests under way finish. A webhook delivery being read when
 * SIGTERM came was cut with no answer (a reset the provider counts against its retries) though the
 * store was still open to keep it; long-lived MCP streams are ended by the face before this, so
 * what is left is short work, and a stop is never held longer than this by a request that is not.
 */
export const DRAIN_MS = 2_000;

/**
 * A bind that no retry mends, said in the flags' words rather than as the bare system error
 * (`getaddrinfo ENOTFOUND x`): the host is no name or address of this machine, or the port needs
 * privileges. A port in use stays the system error: its callers look for who holds it.
 */
function unbindable(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const why =
    err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' || err.code === 'EAI_NONAME'
      ? `the host name ${host} does not resolve`
      : err.code === 'EADDRNOTAVAIL'
        ? `${host} is not an address of this machine`
        : err.code === 'EACCES'
          ? `listening on port ${port} needs privileges this process does not have`
          : undefined;
  if (why === undefined) return err;
  return new HubError(
    'config_invalid',
    `cannot listen on ${host}:${port}: ${why} (${err.code}); pass --host with an address of this machine (127.0.0.1 by default) or --port with another port`,
    { cause: err },
  );
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
  const born = expressBornMessages();
  const http = createServer({
    connectionsCheckingInterval: connectionsCheckingInterval(server.limits),
    requireHostHeader: false,
    IncomingMessage: born.IncomingMessage,
    ServerResponse: born.ServerResponse,
  });
  applyServerLimits(http, server.limits);
  answerClientErrors(http);
  continueOnRead(http);
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
  let draining = false;
  // Once stopping, an answer ends its connection: a keep-alive client would otherwise send its next
  // request on it. Answers under way are told when the stop begins, later ones as they come.
  const underWay = new Set<ServerResponse>();
  http.on('request', (_req, res: ServerResponse) => {
    if (draining) res.shouldKeepAlive = false;
    else {
      underWay.add(res);
      res.once('close', () => underWay.delete(res));
    }
  });
  http.on('request', starting);
  await new Promise<void>((res, rej) => {
    const failed = (err: NodeJS.ErrnoException) => rej(unbindable(err, host, port));
    http.once('error', failed);
    http.listen(port, host, () => {
      http.off('error', failed);
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
      born.adopt(app.prototypes);
      http.off('request', starting);
      http.on('request', app.handle);
    },
    close: () =>
      new Promise<void>((res) => {
        if (draining || !http.listening) {
          http.closeAllConnections();
          return res();
        }
        draining = true;
        for (const res of underWay) if (!res.headersSent) res.shouldKeepAlive = false;
        underWay.clear();
        const cut = setTimeout(() => http.closeAllConnections(), DRAIN_MS);
        cut.unref();
        http.close(() => {
          clearTimeout(cut);
          res();
        });
        http.closeIdleConnections();
      }),
  };
}
