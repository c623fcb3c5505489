import { describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { integrationSchema } from '../../src/integrations/definition.js';
import { hubErrorOf } from '../helpers/errors.js';

const FILE = '/etc/sb/switchboard.config.json';
const WEBHOOKS = { scheme: 'github', secrets: ['s'] };
const POLL = { events: { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id' } };
const OAUTH = { authorizeUrl: 'https://ak.test/authorize', tokenUrl: 'https://ak.test/token', clientId: 'id', clientSecret: 's' };

function ak(blocks: Record<string, unknown>) {
  return {
    integrations: {
      ak: {
        type: 'custom',
        apiBaseUrl: 'https://api.ak.test',
        tools: { me: { description: 'Me.', method: 'GET', path: '/me', readOnly: true } },
        ...blocks,
      },
    },
  };
}

const KEY = { auth: { type: 'apiKey', header: 'x-api-key', value: 'KEY' } };

describe('an integration called with one API key has no linked accounts to route events to', () => {
  it.each([
    ['webhooks', { webhooks: WEBHOOKS }, 'webhook events'],
    ['poll', { poll: POLL }, 'polled events'],
  ])('%s beside auth.apiKey stops loading, naming the integration and the key', (key, block, what) => {
    const err = hubErrorOf(() => parseConfigValue(ak({ ...KEY, ...block }), FILE, () => {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toBe(
      `${FILE}: integrations.ak.${key}: an integration called with one API key ("auth") has no linked accounts, so its ${what} could reach no one; give "oauth" so each user links an account, or remove "${key}"`,
    );
  });

  it('the same blocks load beside oauth, and an apiKey integration without them loads', () => {
    expect(parseConfigValue(ak({ oauth: OAUTH, webhooks: WEBHOOKS, poll: POLL }), FILE, () => {}).integrations['ak']).toBeDefined();
    expect(parseConfigValue(ak(KEY), FILE, () => {}).integrations['ak']).toBeDefined();
  });

  it('a built-in definition with auth.apiKey and webhooks is refused the same way', () => {
    const r = integrationSchema.safeParse({
      name: 'ak',
      title: 'AK',
      auth: { type: 'apiKey' },
      apiBaseUrl: 'https://api.ak.test',
      tools: {},
      webhooks: { scheme: 'github' },
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toEqual(['webhooks']);
  });
});
