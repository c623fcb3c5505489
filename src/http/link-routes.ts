import type { Express } from 'express';
import { mountConnectPage, type ConnectDeps } from './connect.js';
import { mountOAuthRoutes } from './oauth-routes.js';

/** What the link-bound routes need: the `/connect` page's dependencies cover the `/oauth` routes too. */
export type LinkRouteDeps = ConnectDeps;

/**
 * Every route a browser reaches without a hub token, bound instead by a signed link: `/oauth/*`
 * (start, confirm, callback) and `/connect` (page, revoke, log-out). Mounted here and nowhere else.
 */
export function mountLinkRoutes(app: Express, deps: LinkRouteDeps): void {
  mountOAuthRoutes(app, deps);
  mountConnectPage(app, deps);
}
