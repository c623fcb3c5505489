/**
 * A webhook receiver on loopback: records each request's headers and raw body as sent, and
 * answers with whatever status the test's `answer` returns (or holds the response until it does).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import type { SandboxEvent } from '../../servers/sandbox/index.js';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** The events received, parsed from their bodies, in arrival order. */
  events(): SandboxEvent[];
  close(): Promise<void>;
}

export async function startReceiver(answer: (r: Received, n: number) => number | Promise<number> = () => 204): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const r: Received = { path: req.url ?? '', headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      void Promise.resolve(answer(r, received.length)).then((status) => res.writeHead(status).end());
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    events: () => received.map((r) => JSON.parse(r.body) as SandboxEvent),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

/**
 * Verifies a delivery with the independent Standard Webhooks library, its clock set to `nowMs`
 * (the library reads Date.now() for its ±5 minute window; the sandbox signs with the test's clock).
 */
export function verifyAt(secret: string, r: Received, nowMs: number): unknown {
  vi.useFakeTimers({ toFake: ['Date'], now: nowMs });
  try {
    return new Webhook(secret).verify(r.body, r.headers);
  } finally {
    vi.useRealTimers();
  }
}
