/**
 * An apiBaseUrl with placeholders filled per connection (Jira Cloud's cloud id, Salesforce's
 * instance URL), checked when the config loads: each placeholder declared in `account.values`,
 * each value used, a request only against a fixed origin, none with a key from config, and a
 * placeholder never in the scheme, host or port.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { defineIntegration } from '../../src/integrations/definition.js';
import { hubErrorOf } from '../helpers/errors.js';

const FILE = '/etc/sb/switchboard.config.json';
const OAUTH = { authorizeUrl: 'https://auth.atlassian.com/authorize', tokenUrl: 'https://auth.atlassian.com/oauth/token', clientId: 'id', clientSecret: 's' };
const TOOLS = { myself: { description: 'Me.', method: 'GET' as const, path: '/myself', readOnly: true } };
const RESOURCES = { request: '/oauth/token/accessible-resources', at: '0.id' };

const jira = (over: Record<string, unknown> = {}) => ({
  integrations: {
    jira: {
      type: 'custom',
      oauth: OAUTH,
      apiBaseUrl: 'https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3',
      account: { values: { cloudId: RESOURCES } },
      tools: TOOLS,
      ...over,
    },
  },
});
const salesforce = (over: Record<string, unknown> = {}) => ({
  integrations: {
    salesforce: {
      type: 'custom',
      oauth: OAUTH,
      apiBaseUrl: '{instanceUrl}/services/data/v61.0',
      account: { values: { instanceUrl: 'token:instance_url' } },
      allowedHosts: ['*.my.salesforce.com'],
      tools: TOOLS,
      ...over,
    },
  },
});

const parse = (raw: unknown) => parseConfigValue(raw, FILE, () => {});
function messageOf(raw: unknown): string {
  const err = hubErrorOf(() => parse(raw));
  expect(err.code).toBe('config_invalid');
  return err.message;
}

describe('an apiBaseUrl with placeholders', () => {
  it("loads Jira's cloud id asked of the API and Salesforce's instance URL read off the token response", () => {
    expect(parse(jira()).integrations['jira']).toMatchObject({
      apiBaseUrl: 'https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3',
      account: { values: { cloudId: { kind: 'request', path: '/oauth/token/accessible-resources', at: ['0', 'id'] } } },
    });
    expect(parse(salesforce()).integrations['salesforce']).toMatchObject({
      apiBaseUrl: '{instanceUrl}/services/data/v61.0',
      account: { values: { instanceUrl: { kind: 'token', path: ['instance_url'] } } },
      allowedHosts: ['*.my.salesforce.com'],
    });
  });

  it('refuses a placeholder account.values does not declare, or no account at all, naming the integration and the key', () => {
    expect(messageOf(jira({ account: undefined }))).toContain('integrations.jira.account: apiBaseUrl names {cloudId}: declare where it is learned');
    expect(messageOf(jira({ account: { values: { site: RESOURCES } } }))).toContain('integrations.jira.account.values: apiBaseUrl names {cloudId}');
    expect(messageOf(jira({ account: { values: { cloudId: RESOURCES, site: 'token:site' } } }))).toBe(
      `${FILE}: integrations.jira.account.values.site: apiBaseUrl has no {site}: remove it, or use it there`,
    );
  });

  it('refuses a value asked of an API whose origin is itself a value', () => {
    expect(messageOf(salesforce({ account: { values: { instanceUrl: { request: '/id', at: 'url' } } } }))).toContain(
      "integrations.salesforce.account.values.instanceUrl: a request needs a fixed origin, and apiBaseUrl's origin is {instanceUrl}",
    );
  });

  it('refuses placeholders with a key from config: nothing is linked to learn them at', () => {
    const keyed = {
      type: 'custom',
      auth: { type: 'apiKey', value: 'k' },
      apiBaseUrl: 'https://api.acme.test/{org}',
      account: { values: { org: 'token:org' } },
      tools: TOOLS,
    };
    expect(messageOf({ integrations: { acme: keyed } })).toContain(
      'integrations.acme.apiBaseUrl: an integration called with one API key ("auth") links no accounts',
    );
  });

  it('refuses a placeholder in the host, one used twice, a bad name, and an origin placeholder not followed by a path', () => {
    const at = (apiBaseUrl: string) => messageOf(jira({ apiBaseUrl }));
    expect(at('https://{cloudId}.atlassian.net/rest')).toContain('integrations.jira.apiBaseUrl: a placeholder stands for the whole origin');
    expect(at('https://api.atlassian.com/{cloudId}/{cloudId}')).toContain('{cloudId} appears twice');
    expect(at('https://api.atlassian.com/{cloud-id}')).toContain('{cloud-id} is no placeholder');
    expect(at('https://api.atlassian.com/{cloudId')).toContain('has a { or } that is no {name} placeholder');
    expect(at('{cloudId}.atlassian.net/rest')).toContain('stands for the whole origin (scheme, host and port)');
    // The rest of the URL is checked as a fixed base is.
    expect(at('https://api.atlassian.com/ex/{cloudId}?x=1')).toContain('integrations.jira.apiBaseUrl: must have no query, fragment or credentials');
  });

  it('refuses allowedHosts that a fixed base is not on, and a host pattern that is no host', () => {
    expect(messageOf(jira({ allowedHosts: ['*.atlassian.net'] }))).toContain('integrations.jira.allowedHosts: lists no host of apiBaseUrl (api.atlassian.com)');
    expect(messageOf(salesforce({ allowedHosts: ['https://x.my.salesforce.com'] }))).toContain('integrations.salesforce.allowedHosts.0');
  });

  it('warns when a learned origin may be any host (no allowedHosts), and not when allowedHosts bounds it', () => {
    const warned: string[] = [];
    parseConfigValue(salesforce({ allowedHosts: undefined }), FILE, (m) => warned.push(m));
    parseConfigValue(salesforce(), FILE, (m) => warned.push(m));
    parseConfigValue(jira(), FILE, (m) => warned.push(m));
    expect(warned).toEqual([
      `${FILE}: integrations.salesforce.apiBaseUrl's origin is learned per account ({instanceUrl}) and allowedHosts is not set: each account's token goes to any https origin its link names; set allowedHosts to the provider's hosts (e.g. ["*.my.salesforce.com"])`,
    ]);
  });

  it('holds a definition in code to the same rules', () => {
    const def = {
      name: 'sf',
      title: 'SF',
      oauth: { authorizeUrl: 'https://login.salesforce.com/a', tokenUrl: 'https://login.salesforce.com/t' },
      tools: TOOLS,
    };
    expect(
      defineIntegration({ ...def, apiBaseUrl: '{instanceUrl}/services/data/v61.0', account: { values: { instanceUrl: 'token:instance_url' } } }).apiBaseUrl,
    ).toBe('{instanceUrl}/services/data/v61.0');
    expect(() => defineIntegration({ ...def, apiBaseUrl: '{instanceUrl}/services/data/v61.0' })).toThrow(
      'integration sf: account: apiBaseUrl names {instanceUrl}',
    );
  });
});
