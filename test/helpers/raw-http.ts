import { request as httpRequest } from 'node:http';

/** One request over node:http, for what fetch will not send (a Host header of another name). */
export function rawRequest(opts: {
  port: number;
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: opts.port, path: opts.path, method: opts.method, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
