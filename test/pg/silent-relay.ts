import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP relay in front of the test's PostgreSQL that can go silent: from `silence()` on it still
 * accepts connections and keeps every socket open, but forwards nothing either way, as a hung
 * server, a partition or a failover's abandoned address looks to a client (no RST, no answer).
 * The shared test cluster itself keeps running for the other suites.
 */
export interface SilentRelay {
  /** `url` with its host and port replaced by the relay's. */
  through(url: string): string;
  silence(): void;
  close(): Promise<void>;
}

export async function startSilentRelay(target: string): Promise<SilentRelay> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let silent = false;
  const track = (s: Socket): Socket => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    return s;
  };
  const server = createServer((client) => {
    track(client);
    if (silent) return;
    const upstream = track(createConnection({ host: hostname, port: Number(port) }));
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (!silent) to.write(chunk);
      });
      from.on('close', () => {
        if (!silent) to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no TCP address');
  return {
    through(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(address.port);
      return u.toString();
    },
    silence() {
      silent = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
