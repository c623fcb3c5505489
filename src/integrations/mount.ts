import type { Express } from 'express';
import { mountLinkRoutes, type LinkRouteDeps } from '../http/link-routes.js';
import { hostedWebhookSecret, hostedWebhookSecretName } from './hosted.js';
import type { Integrations } from './wiring.js';

/**
 * Adds /oauth, /connect and the providers the hub hosts to the HTTP app. Kept apart from the
 * wiring so a stdio hub that never listens does not load the HTTP stack. Returns a closer.
 */
export function mountIntegrations(app: Express, i: Integrations, extra: Pick<LinkRouteDeps, 'pollers' | 'grants'> = {}): () => void {
  const secure = i.publicUrl.startsWith('https:');
  const closers = i.hosted.map(({ provider, resolved }) =>
    provider.mount(app, {
      publicUrl: i.publicUrl,
      dataDir: i.dataDir,
      clock: i.clock,
      client: { id: resolved.clientId, secret: resolved.clientSecret, redirectUri: `${i.publicUrl}/oauth/callback` },
      // Events of every account to the hub's own route, signed with the secret the route verifies with.
      ...(resolved.webhooks
        ? {
            webhooks: {
              url: `${i.publicUrl}/webhooks/${provider.integration}`,
              secret: hostedWebhookSecret(i.keys.get(hostedWebhookSecretName(provider.integration))),
            },
          }
        : {}),
    }),
  );
  const close = () => {
    for (const c of closers) c();
  };
  mountLinkRoutes(app, {
    accounts: i.accounts,
    links: i.links,
    uses: i.linkUses,
    sessions: i.sessions,
    clock: i.clock,
    log: i.log,
    secureCookies: secure,
    publicUrl: i.publicUrl,
    breakers: i.circuits,
    ...extra,
  });
  return close;
}
