/**
 * Runs the sandbox provider on its own for manual testing:
 *
 *   node dist/servers/sandbox/main.js --port 8788 \
 *     --client-id switchboard --redirect-uri http://127.0.0.1:8787/oauth/callback
 *
 * The client secret comes from SANDBOX_CLIENT_SECRET (or --client-secret; a flag is visible in
 * the process list), and so does the app webhook secret (SANDBOX_WEBHOOK_SECRET or
 * --webhook-secret). Other env fallbacks: SANDBOX_CLIENT_ID, SANDBOX_REDIRECT_URIS (comma
 * separated), SANDBOX_DB, SANDBOX_WEBHOOK_URL. Prints one JSON line `{ "issuer", "port" }` on
 * stdout once listening.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { systemClock } from '../../src/clock.js';
import { createSandbox } from './index.js';

const USAGE = `usage: main.js [--port N] [--host H] [--base-path /sandbox] [--db FILE]
  [--client-id ID] [--client-secret S] [--redirect-uri URL]... [--token-ttl SECONDS]
  [--rate PER_SECOND] [--burst N] [--omit-refresh-token] [--omit-expires-in]
  [--webhook-url URL --webhook-secret whsec_...] [--drop SHARE] [--drop-seed N]`;

function main(): void {
  const { values: f } = parseArgs({
    options: {
      port: { type: 'string', default: '8788' },
      host: { type: 'string', default: '127.0.0.1' },
      'base-path': { type: 'string', default: '' },
      db: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'token-ttl': { type: 'string' },
      rate: { type: 'string' },
      burst: { type: 'string' },
      'omit-refresh-token': { type: 'boolean', default: false },
      'omit-expires-in': { type: 'boolean', default: false },
      'webhook-url': { type: 'string' },
      'webhook-secret': { type: 'string' },
      drop: { type: 'string' },
      'drop-seed': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (f.help) return void process.stdout.write(`${USAGE}\n`);
  const env = process.env;
  const secret = f['client-secret'] ?? env['SANDBOX_CLIENT_SECRET'];
  if (!secret) throw new Error('set SANDBOX_CLIENT_SECRET (or pass --client-secret)');
  const redirectUris = f['redirect-uri'] ?? env['SANDBOX_REDIRECT_URIS']?.split(',').map((s) => s.trim()) ?? ['http://127.0.0.1:8787/oauth/callback'];
  const basePath = f['base-path'].replace(/\/+$/, '');
  if (basePath !== '' && !basePath.startsWith('/')) throw new Error('--base-path must start with /');
  const num = (flag: string | undefined): number | undefined => (flag === undefined ? undefined : Number(flag));
  const webhookUrl = f['webhook-url'] ?? env['SANDBOX_WEBHOOK_URL'];
  const webhookSecret = f['webhook-secret'] ?? env['SANDBOX_WEBHOOK_SECRET'];
  if (webhookUrl && !webhookSecret) throw new Error('set SANDBOX_WEBHOOK_SECRET (or pass --webhook-secret) with --webhook-url');

  const app = express();
  app.disable('x-powered-by');
  const server = app.listen(Number(f.port), f.host, () => {
    try {
      start();
    } catch (err) {
      fail(err);
    }
  });
  const start = (): void => {
    const { port } = server.address() as AddressInfo;
    const host = f.host.includes(':') ? `[${f.host}]` : f.host;
    const issuer = `http://${host}:${port}${basePath}`;
    const sandbox = createSandbox({
      issuer,
      clock: systemClock,
      dbFile: resolve(f.db ?? env['SANDBOX_DB'] ?? './data/sandbox.db'),
      clients: [{ id: f['client-id'] ?? env['SANDBOX_CLIENT_ID'] ?? 'switchboard', secret, redirectUris }],
      accessTokenTtlSeconds: num(f['token-ttl']),
      rateLimit: f.rate || f.burst ? { perSecond: num(f.rate) ?? 5, burst: num(f.burst) ?? 10 } : undefined,
      omitRefreshTokenOnRefresh: f['omit-refresh-token'],
      omitExpiresIn: f['omit-expires-in'],
      webhooks: webhookUrl && webhookSecret ? { url: webhookUrl, secret: webhookSecret } : undefined,
      drop: num(f.drop),
      dropSeed: num(f['drop-seed']),
    });
    app.use(basePath || '/', sandbox.router);
    if (basePath !== '') app.get(sandbox.wellKnownPath, (_req, res) => void res.json(sandbox.metadata));
    const stop = (): void => {
      server.close(() => {
        sandbox.close();
        process.exit(0);
      });
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
  };
  server.on('error', (err) => {
    process.stderr.write(`sandbox: ${err.message}\n`);
    process.exit(1);
  });
}

function fail(err: unknown): never {
  const message = err instanceof z.ZodError ? z.prettifyError(err) : err instanceof Error ? err.message : String(err);
  process.stderr.write(`sandbox: ${message}\n${USAGE}\n`);
  process.exit(2);
}

try {
  main();
} catch (err) {
  fail(err);
}
