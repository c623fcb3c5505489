import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HubConfig } from '../config/schema.js';
import { answerClientErrors } from './client-error.js';
import { applyServerLimits, connectionsCheckingInterval } from './limits.js';

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
 * Until `serve` is called, requests get what /readyz says while the hub starts: 503, `starting`.
 */
export async function bindHttp(server: HubConfig['server'], at: { port?: number; host?: string } = {}): Promise<HttpListener> {
  const port = at.port ?? server.port;
  const host = at.host ?? server.host;
  const http = createServer({ connectionsCheckingInterval: connectionsCheckingInterval(server.limits) });
  applyServerLimits(http, server.limits);
  answerClientErrors(http);
  const starting: RequestListener = (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"status":"starting"}');
  };
  http.on('request', starting);
  await new Promise<void>((res, rej) => {
    http.once('error', rej);
    http.listen(port, host, () => {
      http.off('error', rej);
      res();
    });
  });
  return {
    server: http,
    host,
    port: (http.address() as AddressInfo).port,
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
