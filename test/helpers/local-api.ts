import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a stand-in provider does with a request, its body already read as text. */
export type LocalHandler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

export interface LocalApi {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  close(): Promise<void>;
}

/** A provider's stand-in on a loopback port the OS picks: real HTTP, the wire format up to `handle`. */
export async function localApi(handle: LocalHandler): Promise<LocalApi> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handle(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * The integration `P` the answer tests declare against a stand-in API: a custom one called with a
 * key from config (no linking), its tools and any other keys (`api`, `refusal`) given.
 */
export function keyedIntegration(api: LocalApi, tools: Record<string, unknown>, more: Record<string, unknown> = {}) {
  return { type: 'custom', title: 'P', apiBaseUrl: `${api.origin}/api`, auth: { type: 'apiKey', value: 'k' }, ...more, tools };
}
