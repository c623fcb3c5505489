/**
 * The OAuth endpoints of an integration are checked when the config loads: an endpoint that is no
 * http(s) URL, or that carries a user name, a password or a fragment, is refused naming its key,
 * rather than loading and failing every link as an internal error (or dropping the credentials).
 */
import { describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';

const FILE = '/etc/sb/switchboard.config.json';
const OAUTH = { authorizeUrl: 'https://acme.test/oauth/authorize', tokenUrl: 'https://acme.test/oauth/token', clientId: 'id', clientSecret: 'client-secret' };
const TOOLS = { list_tickets: { description: 'Lists.', method: 'GET', path: '/tickets', readOnly: true } };

const withOauth = (over: Record<string, unknown>) => ({
  integrations: { acme: { type: 'custom', oauth: { ...OAUTH, ...over }, apiBaseUrl: 'https://api.acme.test', tools: TOOLS } },
});

function messageOf(raw: unknown): string {
  const err = hubErrorOf(() => parseConfigValue(raw, FILE, () => {}));
  expect(err.code).toBe('config_invalid');
  return err.message;
}

describe("an integration's OAuth endpoints", () => {
  it('refuses a scheme other than http or https, naming the key', () => {
    expect(messageOf(withOauth({ authorizeUrl: 'htps://acme.test/oauth/authorize' }))).toContain(
      'integrations.acme.oauth.authorizeUrl: must be an http or https URL',
    );
    expect(messageOf(withOauth({ tokenUrl: 'ftp://acme.test/token' }))).toContain('integrations.acme.oauth.tokenUrl: must be an http or https URL');
    expect(messageOf(withOauth({ revokeUrl: 'javascript:alert(1)' }))).toContain('integrations.acme.oauth.revokeUrl');
  });

  it('refuses a user name, a password or a fragment, naming the key', () => {
    expect(messageOf(withOauth({ tokenUrl: 'https://id:secret@acme.test/oauth/token' }))).toContain(
      'integrations.acme.oauth.tokenUrl: must have no user name, password or fragment',
    );
    expect(messageOf(withOauth({ revokeUrl: 'https://id@acme.test/oauth/revoke' }))).toContain('integrations.acme.oauth.revokeUrl');
    expect(messageOf(withOauth({ authorizeUrl: 'https://acme.test/oauth/authorize#x' }))).toContain('integrations.acme.oauth.authorizeUrl');
  });

  it('takes http and https endpoints, a query kept', () => {
    const c = parseConfigValue(
      withOauth({ authorizeUrl: 'http://127.0.0.1:9000/authorize?tenant=t1', revokeUrl: 'https://developer.api.intuit.test/revoke' }),
      FILE,
      () => {},
    );
    expect(c.integrations['acme']).toMatchObject({ oauth: { authorizeUrl: 'http://127.0.0.1:9000/authorize?tenant=t1' } });
  });
});
