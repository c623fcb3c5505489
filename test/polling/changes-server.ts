import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Change {
  id: string;
  ts: number;
  kind: string;
}

export interface ChangesServer {
  /** Stands in for an issuer: the API is under `${issuer}/api`. */
  issuer: string;
  changes: Change[];
  pageSize: number;
  /** Every request's query string, in order. */
  requests: string[];
  /** Answers the next requests itself when set (a status, headers); return false to serve the page. */
  intercept: ((req: IncomingMessage, res: ServerResponse, n: number) => boolean) | undefined;
  /** Headers added to every page. */
  headers: (n: number) => Record<string, string>;
  /** While set, page requests wait for it (to hold a request in flight). */
  gate: Promise<void> | undefined;
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

/**
 * A provider feed of the kind that loses rows: `GET /api/changes?since=<ts>` is inclusive and
 * ordered by (ts, insertion); the answer's `cursor` is the last item's timestamp, so a page that
 * ends inside a run of one timestamp is re-read from that timestamp. `has_more` says a page is full.
 */
export async function startChangesServer(): Promise<ChangesServer> {
  const s: ChangesServer = {
    issuer: '',
    changes: [],
    pageSize: 4,
    requests: [],
    intercept: undefined,
    headers: () => ({}),
    gate: undefined,
    inFlight: 0,
    maxInFlight: 0,
    close: async () => {},
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api/changes') return void res.writeHead(404).end();
    const n = s.requests.push(url.search);
    s.inFlight++;
    s.maxInFlight = Math.max(s.maxInFlight, s.inFlight);
    try {
      await s.gate;
      if (s.intercept?.(req, res, n)) return;
      const since = url.searchParams.get('since');
      const from = since === null ? Number.NEGATIVE_INFINITY : Number(since);
      const matching = s.changes.filter((c) => c.ts >= from).sort((a, b) => a.ts - b.ts);
      const items = matching.slice(0, s.pageSize);
      const cursor = items.at(-1)?.ts ?? (since === null ? null : from);
      res.writeHead(200, { 'content-type': 'application/json', ...s.headers(n) });
      res.end(JSON.stringify({ items, cursor, has_more: matching.length > items.length }));
    } finally {
      s.inFlight--;
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  s.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  s.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return s;
}

export const CHANGES_FEED = { path: '/changes', cursorParam: 'since', cursorFrom: 'cursor', itemsAt: 'items', idAt: 'id', typeFrom: 'kind' };
