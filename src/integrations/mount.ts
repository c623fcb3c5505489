import type { Express } from 'express';
import { resolve } from 'node:path';
import { createSandbox } from '../../servers/sandbox/index.js';
import { mountLinkRoutes } from '../http/link-routes.js';
import { SqliteLinkUses } from '../oauth/link-uses.js';
import type { Db } from '../store/db.js';
import type { Integrations } from './wiring.js';

/**
 * Adds /oauth, /connect and the hosted sandbox provider to the HTTP app. Kept apart from the
 * wiring so a stdio hub that never listens does not load the HTTP stack. Returns a closer.
 */
export function mountIntegrations(app: Express, i: Integrations, db: Db): () => void {
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
  const uses = new SqliteLinkUses(db, i.clock);
  mountLinkRoutes(app, { accounts: i.accounts, links: i.links, uses, sessions: uses, clock: i.clock, log: i.log, secureCookies: secure });
  return close;
}
