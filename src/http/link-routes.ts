import type { Express } from 'express';
import type { Clock } from '../clock.js';
import type { Accounts } from '../integrations/accounts.js';
import type { ConnectSessions, LinkUses } from '../oauth/link-uses.js';
import type { LinkSigner } from '../oauth/links.js';
import type { Logger } from '../observability/logger.js';
import { mountConnectPage } from './connect.js';
import { mountOAuthRoutes } from './oauth-routes.js';

export interface LinkRouteDeps {
  accounts: Accounts;
  links: LinkSigner;
  uses: LinkUses;
  sessions: ConnectSessions;
  clock: Clock;
  log: Logger;
  /** Set Secure on cookies: the public URL is https. */
  secureCookies: boolean;
}

/**
 * Every route a browser reaches without a hub token, bound instead by a signed link: `/oauth/*`
 * (start, confirm, callback) and `/connect` (page, revoke, log-out). Mounted here and nowhere else.
 */
export function mountLinkRoutes(app: Express, deps: LinkRouteDeps): void {
  mountOAuthRoutes(app, deps);
  mountConnectPage(app, deps);
}
