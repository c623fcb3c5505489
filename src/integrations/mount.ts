import type { Express } from 'express';
import { resolve } from 'node:path';
import { createSandbox } from '../../servers/sandbox/index.js';
import { mountConnectPage } from '../http/connect.js';
import { mountOAuthRoutes } from '../oauth/routes.js';
import type { Integrations } from './wiring.js';

/**
 * Adds /oauth, /connect and the hosted sandbox provider to the HTTP app. Kept apart from the
 * wiring so a stdio hub that never listens does not load the HTTP stack. Returns a closer.
 */
export function mountIntegrations(app: Express, i: Integrations): () => void {
  const secure = i.publicUrl.startsWith('https:');
  let close = () => {};
  if (i.hosted) {
    const sandbox = createSandbox({
      issuer: `${i.publicUrl}/sandbox`,
      clients: [{ id: i.hosted.clientId, secret: i.hosted.clientSecret, redirectUris: [`${i.publicUrl}/oauth/callback`], name: 'Switchboard' }],
      dbFile: i.dataDir === ':memory:' ? ':memory:' : resolve(i.dataDir, 'sandbox.db'),
      clock: i.clock,
    });
    // RFC 8414 §3.1: the metadata of an issuer with a path lives at the host root, path appended.
    app.get(sandbox.wellKnownPath, (_req, res) => {
      res.json(sandbox.metadata);
    });
    app.use('/sandbox', sandbox.router);
    close = () => sandbox.close();
  }
  mountOAuthRoutes(app, i.accounts, { secureCookies: secure, log: i.log });
  mountConnectPage(app, { accounts: i.accounts, links: i.links, clock: i.clock, log: i.log, secureCookies: secure });
  return close;
}
