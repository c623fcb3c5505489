import { describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { defineIntegration, type IntegrationInput } from '../../src/integrations/definition.js';
import { rejectionOf } from '../helpers/definitions.js';

/**
 * The `refusal` block's `unauthorized` list (the reasons that say the token is dead, Slack's
 * `invalid_auth` and the rest): read against the reason at `messageAt`, so it needs that path, and
 * a list that names nothing is a typo. The same schema in a built-in definition and a custom entry.
 */
const BASE: IntegrationInput = {
  name: 'chat',
  title: 'Chat',
  oauth: { authorizeUrl: 'https://slack.test/oauth/v2/authorize', tokenUrl: 'https://slack.test/api/oauth.v2.access' },
  apiBaseUrl: 'https://slack.test/api',
  tools: {},
};

describe("the refusal block's unauthorized list", () => {
  it('loads with messageAt, in a definition and a custom entry alike', () => {
    const refusal = { okAt: 'ok', messageAt: 'error', unauthorized: ['invalid_auth', 'token_revoked'] };
    expect(defineIntegration({ ...BASE, refusal } as IntegrationInput).refusal).toEqual({
      okAt: ['ok'],
      messageAt: ['error'],
      unauthorized: ['invalid_auth', 'token_revoked'],
    });
    const config = parseConfigValue(
      {
        integrations: { chat: { type: 'custom', oauth: { ...BASE.oauth, clientId: 'c', clientSecret: 's' }, apiBaseUrl: BASE.apiBaseUrl, tools: {}, refusal } },
      },
      'sb.json',
    );
    expect(config.integrations['chat']).toMatchObject({ refusal: { unauthorized: ['invalid_auth', 'token_revoked'] } });
  });

  it('refuses it without messageAt, or empty, naming the key', () => {
    expect(rejectionOf(BASE, { refusal: { okAt: 'ok', unauthorized: ['invalid_auth'] } })).toMatch(/refusal\.unauthorized.*"messageAt" must be given too/s);
    expect(rejectionOf(BASE, { refusal: { okAt: 'ok', messageAt: 'error', unauthorized: [] } })).toMatch(/refusal\.unauthorized/);
  });
});
