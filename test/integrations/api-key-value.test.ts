import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';

/**
 * An API key in config (`auth.apiKey`, usually `${ENV}`) that an HTTP header cannot carry — a line
 * break inside it (a variable read from a file with CRLF lines), another control character, a
 * character past U+00FF — stops loading naming the key's place and never its value, where every
 * call of the integration failed as "could not be reached" without a request made. Whitespace at
 * its ends, which fetch trims, still loads.
 */
const FILE = '/etc/sb/switchboard.config.json';
const text = (auth: Record<string, unknown>) =>
  JSON.stringify({
    integrations: {
      ak: {
        type: 'custom',
        apiBaseUrl: 'https://api.ak.test',
        auth: { type: 'apiKey', ...auth },
        tools: { me: { description: 'Me.', method: 'GET', path: '/me', readOnly: true } },
      },
    },
  });

describe("an API key's value", () => {
  it.each([
    ['a line break inside, from ${ENV}', { value: '${AK_KEY}' }, { AK_KEY: 'sk_live_4f1e\r\nX-Evil: 1' }, 'value', 'the key'],
    ['a NUL', { value: 'sk_live_4f1e\u0000' + 'tail' }, {}, 'value', 'the key'],
    ['a character past U+00FF', { value: 'sk_live_4f1e\u2028tail' }, {}, 'value', 'the key'],
    ['a prefix with a line break', { value: 'sk_live_4f1e', prefix: 'Bearer\n' + 'x ' }, {}, 'prefix', 'the prefix'],
  ])('with %s stops loading, naming where and not the value', (_why, auth, env, key, what) => {
    const err = hubErrorOf(() => parseConfigText(text(auth), FILE, env, () => {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(`integrations.ak.auth.${key}: ${what} holds a character an HTTP header cannot carry`);
    expect(err.message).not.toContain('sk_live_4f1e');
  });

  it('with whitespace at its ends (fetch trims it) or a Latin-1 character loads', () => {
    for (const value of ['sk_live_4f1e\n', '  sk_live_4f1e', 'clé-é']) {
      expect(parseConfigText(text({ value }), FILE, {}, () => {}).integrations['ak']).toBeDefined();
    }
  });
});
