import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import { ConnectionBases } from '../../src/integrations/connection-base.js';
import { defineIntegration } from '../../src/integrations/definition.js';
import { JobEvents } from '../../src/outbox/events.js';
import { siteDigest } from '../../src/outbox/site.js';
import type { Job } from '../../src/outbox/types.js';
import { OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import type { SqliteHubStore } from '../../src/store/bundle.js';

/** A Jira-like integration whose base names the site its link learned (`{cloudId}`). */
export const siteJira = defineIntegration({
  name: 'jira',
  title: 'Jira',
  oauth: { authorizeUrl: 'https://auth.example.test/authorize', tokenUrl: 'https://auth.example.test/token' },
  apiBaseUrl: 'https://api.example.test/ex/jira/{cloudId}',
  account: { values: { cloudId: 'token:cloudId' } },
  tools: {},
});

/**
 * Users' Jira connections on a store, linked (again) to a site, and comments queued for the site
 * each is on; `bases` reads a job's base as the job sender does (ConnectionBases.ofId), and
 * `worker` is the outbox's worker on the store with the given send.
 */
export function siteJobs(s: SqliteHubStore, o: { clock: Clock; log: Logger }) {
  const link = (user: string, cloudId: string) =>
    s.connections.link({
      tenant: 'default',
      user,
      integration: 'jira',
      tokens: { accessToken: `t-${user}`, tokenType: 'Bearer' },
      scopes: [],
      apiValues: { cloudId },
    });
  const queue = async (user: string, cloudId: string, extra: { sensitive?: boolean; arguments?: Record<string, unknown> } = {}): Promise<Job> => {
    const c = await link(user, cloudId);
    const input = { tenant: 'default', user, connectionId: c.id, integration: 'jira', tool: 'comment', arguments: { key: 'PRJ-1' }, ...extra };
    return (await s.outbox.enqueue({ ...input, siteDigest: siteDigest({ cloudId })! })).job;
  };
  const bases = new ConnectionBases({ definition: siteJira, connections: s.connections, needsRelink: async () => {} });
  const worker = (send: SendFn) => new OutboxWorker({ queue: s.outbox, events: new JobEvents(), clock: o.clock, log: o.log, send });
  return { link, queue, bases, worker };
}
