import { createServer } from 'node:net';

/**
 * A port that was free a moment ago. The hub builds OAuth redirect URIs and links on its port
 * before it listens, so "any port" (0) is turned into a concrete one first.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}
