/**
 * Writes held in the outbox while a test relinks an account (test/integrations/api-values-queued-relink.test.ts
 * and its PostgreSQL twin): a Jira-like integration with one write, and a run that queues each
 * user's write with the worker stopped, does what the test says meanwhile, then lets it send.
 */
import type { Hub } from '../../src/hub.js';
import type { CallResult, FaceClient } from '../helpers/clients.js';
import { eventually } from '../helpers/hub.js';
import type { FakeProvider } from './api-values-provider.js';

/** Jira Cloud's base per site ({cloudId}, learned from the accessible resources), with a comment write. */
export function jiraWithComment(provider: FakeProvider) {
  return {
    type: 'custom',
    title: 'Jira',
    oauth: provider.oauthConfig(),
    apiBaseUrl: `${provider.jiraOrigin}/ex/jira/{cloudId}/rest/api/3`,
    account: { values: { cloudId: { request: '/oauth/token/accessible-resources', at: '0.id' } } },
    tools: {
      comment: {
        description: 'Comments on an issue.',
        method: 'POST',
        path: '/issue/{key}/comment',
        input: { type: 'object', properties: { key: { type: 'string' }, body: { type: 'string' } }, required: ['key', 'body'] },
      },
    },
  };
}

/**
 * Calls `jira__comment` as each of `users` with the worker stopped, runs `meanwhile` once every
 * write is queued, then lets the worker send them (it is started again after); the callers'
 * answers, in order. The hub's outbox must wait longer than this takes (`outbox.waitMs`).
 */
export async function queuedWhile(hub: Hub, clients: Map<string, FaceClient>, users: string[], meanwhile: () => Promise<void>): Promise<CallResult[]> {
  const { worker, outbox } = hub.outbox;
  await worker.stop();
  try {
    const calls = users.map((u) => clients.get(u)!.callTool('jira__comment', { key: 'PRJ-1', body: `from ${u}` }));
    await eventually(async () => ((await outbox.list({ state: 'queued' })).length === users.length ? true : undefined));
    await meanwhile();
    await worker.drain();
    return await Promise.all(calls);
  } finally {
    worker.start();
  }
}

/** Each comment that reached a site: its path (the site's cloud id in it) and whose token it carried. */
export const commentsOf = (provider: FakeProvider) => provider.seen.filter((s) => s.method === 'POST').map((s) => `${s.path} ${provider.ownerOf(s.token)}`);
