/**
 * A placeholder of apiBaseUrl never names the host (README: A base per linked account): checked
 * as the URL parser reads the template, not as it is written. `https:///{cloudId}/rest/api/3` (one
 * slash too many) has an empty host as written, but a WHATWG parser skips the slash and reads the
 * placeholder as the host, so a learned cloud id such as `evil.example` would have received every
 * user's token. It stops the config loading; the path placeholders that are meant still load.
 */
import { expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';

const FILE = '/etc/sb/switchboard.config.json';
const OAUTH = { authorizeUrl: 'https://auth.atlassian.com/authorize', tokenUrl: 'https://auth.atlassian.com/oauth/token', clientId: 'id', clientSecret: 's' };

const config = (apiBaseUrl: string) => ({
  integrations: {
    jira: {
      type: 'custom',
      oauth: OAUTH,
      apiBaseUrl,
      account: { values: { cloudId: 'token:cloud_id' } },
      tools: { myself: { description: 'Me.', method: 'GET', path: '/myself', readOnly: true } },
    },
  },
});
const parse = (apiBaseUrl: string) => parseConfigValue(config(apiBaseUrl), FILE, () => {});

it('refuses a template whose placeholder the URL parser reads as the host', () => {
  for (const base of ['https:///{cloudId}/rest/api/3', 'https:////{cloudId}/rest/api/3']) {
    const err = hubErrorOf(() => parse(base));
    expect(err.code, base).toBe('config_invalid');
    expect(err.message).toContain('integrations.jira.apiBaseUrl');
    expect(err.message).toContain('never in the scheme, host or port');
  }
});

it('still loads a placeholder in the path', () => {
  for (const base of [
    'https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3',
    'https://api.atlassian.com/{cloudId}',
    'https://api.atlassian.com/x/site-{cloudId}-a',
  ])
    expect(parse(base).integrations['jira']).toMatchObject({ apiBaseUrl: base });
});
