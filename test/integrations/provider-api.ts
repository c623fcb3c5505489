/**
 * A provider's REST API on loopback for the provider-client tests: it records every request (path,
 * method, bearer token, body), answers per path, and a second server on another port plays the
 * foreign host that must never receive anything. Tokens in `rejected` (or all, with `rejectAll`)
 * get RFC 6750's 401 invalid_token.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  path: string;
  query: string;
  token: string | undefined;
  body: string;
}

export interface ProviderApi {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  readonly seen: Seen[];
  rejected: Set<string>;
  rejectAll: boolean;
  /** Per `METHOD /path` (after /v1), answers to hand out in order before the default. */
  queue(route: string, ...answers: ((res: ServerResponse) => void)[]): void;
  /** Bytes written by /v1/huge before the client went away. */
  hugeBytesSent(): number;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += (c as Buffer).toString();
  return s;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

/** `foreign` is where the hostile redirects point. */
export async function startProviderApi(foreign: string, hugeBytes = 200 * 1024 * 1024): Promise<ProviderApi> {
  const seen: Seen[] = [];
  const queues = new Map<string, ((res: ServerResponse) => void)[]>();
  let hugeSent = 0;
  const api: ProviderApi = {
    origin: '',
    seen,
    rejected: new Set(),
    rejectAll: false,
    queue: (route, ...answers) => queues.set(route, [...(queues.get(route) ?? []), ...answers]),
    hugeBytesSent: () => hugeSent,
    close: async () => {},
  };
  const { server, origin } = await listen((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      const body = await bodyOf(req);
      seen.push({ method: req.method ?? '', path: url.pathname, query: url.search, token, body });
      if (token === undefined || api.rejectAll || api.rejected.has(token)) {
        json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
        return;
      }
      const route = `${req.method} ${url.pathname.replace(/^\/v1/, '')}`;
      const next = queues.get(route)?.shift();
      if (next) return next(res);
      switch (route) {
        case 'GET /hop/foreign':
        case 'POST /hop/foreign':
          return res.writeHead(307, { location: `${foreign}/collect` }).end();
        case 'GET /hop/outside':
          return res.writeHead(302, { location: '/admin/export' }).end();
        case 'GET /hop/inside':
          return res.writeHead(302, { location: '/v1/things?from=hop' }).end();
        case 'GET /slow':
          return; // never answers
        case 'GET /huge':
          return streamHuge(res, hugeBytes, (n) => (hugeSent = n));
        default:
          return json(res, 200, { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body: body ? JSON.parse(body) : null });
      }
    })();
  });
  api.origin = origin;
  api.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return api;
}

/** Writes `total` bytes of a JSON string in 64 KiB chunks, honouring back-pressure, until the client leaves. */
function streamHuge(res: ServerResponse, total: number, progress: (n: number) => void): void {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  let sent = 0;
  res.writeHead(200, { 'content-type': 'application/json' });
  const pump = () => {
    while (sent < total && !res.destroyed) {
      sent += chunk.length;
      progress(sent);
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

export interface ForeignHost {
  origin: string;
  readonly hits: Seen[];
  close(): Promise<void>;
}

/** A host the provider's redirects point at; any request reaching it is a leak. */
export async function startForeignHost(): Promise<ForeignHost> {
  const hits: Seen[] = [];
  const { server, origin } = await listen((req, res) => {
    void bodyOf(req).then((body) => {
      const url = new URL(req.url ?? '/', 'http://x');
      hits.push({ method: req.method ?? '', path: url.pathname, query: url.search, token: req.headers.authorization, body });
      json(res, 200, { stolen: true });
    });
  });
  return {
    origin,
    hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
