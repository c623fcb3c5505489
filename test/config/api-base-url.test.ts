/**
 * A custom integration's apiBaseUrl is checked when the config loads: each tool's URL is its path
 * resolved under it, so a query there was dropped from every request without a word, and a base
 * URL of another scheme (or with credentials) loaded and then failed every call as unreachable.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';

const FILE = '/etc/sb/switchboard.config.json';
const TOOLS = { list_things: { description: 'Lists.', method: 'GET', path: '/things?api-version=2024-01-01', readOnly: true } };

const withBase = (apiBaseUrl: string) => ({ integrations: { acme: { type: 'custom', auth: { type: 'none' }, apiBaseUrl, tools: TOOLS } } });

function messageOf(raw: unknown): string {
  const err = hubErrorOf(() => parseConfigValue(raw, FILE, () => {}));
  expect(err.code).toBe('config_invalid');
  return err.message;
}

describe("a custom integration's apiBaseUrl", () => {
  it('refuses a query, which no request would carry, saying where one goes', () => {
    const said = messageOf(withBase('https://api.acme.test/v1?api-version=2024-01-01'));
    expect(said).toContain('integrations.acme.apiBaseUrl: must have no query, fragment or credentials');
    expect(said).toContain("a tool's path may carry a query");
  });

  it('refuses another scheme, credentials and a fragment, naming the key', () => {
    expect(messageOf(withBase('ftp://files.acme.test/v1'))).toContain('integrations.acme.apiBaseUrl: must be an http or https URL');
    expect(messageOf(withBase('https://u:p@api.acme.test/v1'))).toContain('integrations.acme.apiBaseUrl');
    expect(messageOf(withBase('https://api.acme.test/v1#top'))).toContain('integrations.acme.apiBaseUrl');
  });

  it('takes an http or https base with a path, and a tool path with its own query', () => {
    const c = parseConfigValue(withBase('http://127.0.0.1:9000/v1/'), FILE, () => {});
    expect(c.integrations['acme']).toMatchObject({ apiBaseUrl: 'http://127.0.0.1:9000/v1/' });
  });
});
