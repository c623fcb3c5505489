import { configSchema } from '../../src/config/schema.js';
import type { ConnectionWrites } from '../../src/connections/repository.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';

/**
 * An integration with webhooks, linked per user through OAuth (never exercised here: the events
 * tests hand the inbox events already routed to a user's connection): its events reach clients
 * through `acme__recent_events` and the events resource, which the events tests read.
 */
export const EVENTS_URI = 'switchboard://events/acme';

export const EVENTS_ACME = {
  type: 'custom',
  title: 'Acme',
  apiBaseUrl: 'https://api.acme.test',
  oauth: { authorizeUrl: 'https://auth.acme.test/authorize', tokenUrl: 'https://auth.acme.test/token', clientId: 'hub', clientSecret: 's' },
  webhooks: { scheme: 'standard-webhooks', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] },
  tools: { ping: { description: 'ping', method: 'GET', path: '/ping', readOnly: true } },
};

/**
 * Links each `tenant/user` (or `user`, of the default tenant) to each integration named, in the store
 * alone (no OAuth flow): `recent_events` offers one who never linked the link instead.
 */
export async function linkReaders(
  hub: { integrations: { connections: Pick<ConnectionWrites, 'link'> } },
  readers: string[],
  integrations: string[] = ['acme'],
): Promise<void> {
  for (const reader of readers) {
    const [tenant, user] = reader.includes('/') ? (reader.split('/') as [string, string]) : ['default', reader];
    for (const integration of integrations)
      await hub.integrations.connections.link({ tenant, user, integration, tokens: { accessToken: `at-${tenant}-${user}`, tokenType: 'Bearer' }, scopes: [] });
  }
}

/** A second hub on `dataDir` with the events integration, started and ready: another process on the same files. */
export async function eventsHubBeside(dataDir: string): Promise<Hub> {
  const hub = new Hub({ config: configSchema.parse({ integrations: { acme: EVENTS_ACME }, dataDir, server: { port: 0 } }), log: silentLogger() });
  hub.start();
  await hub.ready();
  return hub;
}
