import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/connections/types.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { post, tokens } from './route-harness.js';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const oauth = { authorizeUrl: 'https://slack.example.test/authorize', tokenUrl: 'https://slack.example.test/token', clientId: 'hub', clientSecret: 's' };
/** `slack` routes by the Events API's `body:team_id`, as its config says; `slack_bare` names no accountFrom. */
const SLACK = {
  type: 'custom',
  oauth,
  apiBaseUrl: 'https://slack.example.test/api',
  tools: {},
  webhooks: { scheme: 'slack', secrets: [SECRET], accountFrom: 'body:team_id' },
};
const SLACK_BARE = { ...SLACK, webhooks: { scheme: 'slack', secrets: [SECRET] } };

let hub: RunningHub;
const linked: Record<string, Connection> = {};

beforeAll(async () => {
  hub = await startHub({ integrations: { slack: SLACK, slack_bare: SLACK_BARE } });
  for (const integration of ['slack', 'slack_bare']) {
    linked[integration] = await hub.hub.integrations.connections.link({
      tenant: 'default',
      user: 'alice',
      integration,
      tokens: tokens(1),
      scopes: [],
      accountId: 'T0ALICE',
    });
  }
});
afterAll(() => hub.stop());

/** Signed as Slack signs (v0= hex HMAC of `v0:<ts>:<body>`), sent as Slack sends that shape. */
async function deliver(integration: string, body: string, form: boolean): Promise<{ routed: number; type: string | undefined }> {
  const ts = String(Math.floor(Date.now() / 1000));
  const res = await post(hub, `/webhooks/${integration}`, body, {
    'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
    'x-slack-request-timestamp': ts,
    'x-slack-signature': `v0=${createHmac('sha256', SECRET).update(`v0:${ts}:${body}`).digest('hex')}`,
  });
  const json = (await res.json()) as { id: string; routed: number };
  expect(res.status).toBe(200);
  const stored = await hub.hub.inbox.inbox.get(json.id);
  expect(stored?.connection?.id ?? null).toBe(json.routed === 1 ? linked[integration]!.id : null);
  return { routed: json.routed, type: stored?.type };
}

// The three shapes Slack posts to an app's request URLs (docs.slack.dev): Events API, interactivity, slash command.
const eventsApi = () =>
  JSON.stringify({
    token: 'x',
    team_id: 'T0ALICE',
    api_app_id: 'A1',
    event: { type: 'message', text: 'hi' },
    type: 'event_callback',
    event_id: `Ev${randomUUID()}`,
  });
const blockActions = () =>
  `payload=${encodeURIComponent(
    JSON.stringify({
      type: 'block_actions',
      team: { id: 'T0ALICE', domain: 'acme' },
      user: { id: 'U1', username: 'alice', team_id: 'T0ALICE' },
      api_app_id: 'A1',
      trigger_id: `1.2.${randomUUID()}`,
      actions: [{ action_id: 'approve', type: 'button', value: 'yes' }],
    }),
  )}`;
const slashCommand = () => `token=x&team_id=T0ALICE&team_domain=acme&user_id=U1&command=%2Ftodo&text=bake+a+cake&trigger_id=${randomUUID()}`;

describe('Slack deliveries of every shape reach the linked workspace', () => {
  it.each(['slack', 'slack_bare'])(
    '%s: Events API, interactivity (team.id) and slash commands (team_id) are each routed, with their own type',
    async (integration) => {
      expect(await deliver(integration, eventsApi(), false)).toEqual({ routed: 1, type: 'message' });
      expect(await deliver(integration, blockActions(), true)).toEqual({ routed: 1, type: 'block_actions' });
      expect(await deliver(integration, slashCommand(), true)).toEqual({ routed: 1, type: '/todo' });
    },
  );

  it('a workspace nobody linked stays unroutable in every shape', async () => {
    const other = (s: string) => s.replaceAll('T0ALICE', 'T0NOBODY');
    expect((await deliver('slack', other(eventsApi()), false)).routed).toBe(0);
    expect((await deliver('slack', other(blockActions()), true)).routed).toBe(0);
    expect((await deliver('slack', other(slashCommand()), true)).routed).toBe(0);
  });
});
