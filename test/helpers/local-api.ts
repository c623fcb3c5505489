import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLIENT_KINDS, connectClient, type FaceClient } from './clients.js';
import { startHub, type RunningHub } from './hub.js';

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

/**
 * A hub whose provider waits (Retry-After, a spent window's reset) are recorded in `sleeps`, not
 * slept, with a v2 client of each era pushed to `clients`: the set-up of the tests of those waits.
 */
export async function waitsHub(config: Parameters<typeof startHub>[0], sleeps: number[], clients: FaceClient[]): Promise<RunningHub> {
  const hub = await startHub(config, { provider: { sleep: async (ms) => void sleeps.push(ms) } });
  for (const kind of CLIENT_KINDS.filter((k) => k !== 'v1')) clients.push(await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token }));
  return hub;
}
