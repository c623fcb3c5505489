import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { integrationSchema } from '../../src/integrations/definition.js';
import { hubErrorOf } from '../helpers/errors.js';
import { runCli, tmpDir } from '../helpers/hub.js';

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
const NONE = { auth: { type: 'none' } };
const CALLED = { apiKey: 'called with one API key ("auth")', none: 'called with no key ("auth": { "type": "none" })' };
const WHAT = { webhooks: 'webhook events', poll: 'polled events' };

const refusal = (called: string, key: 'webhooks' | 'poll') =>
  `integrations.ak.${key}: an integration ${called} has no linked accounts, and an event goes only to the user whose linked account it belongs to, so its ${WHAT[key]} could reach no one; give "oauth" so each user links an account, or remove "${key}"`;

describe('an integration called without linking has no linked accounts to route events to', () => {
  it.each([
    ['webhooks', 'apiKey', { ...KEY, webhooks: WEBHOOKS }],
    ['poll', 'apiKey', { ...KEY, poll: POLL }],
    ['webhooks', 'none', { ...NONE, webhooks: WEBHOOKS }],
    ['poll', 'none', { ...NONE, poll: POLL }],
  ] as const)('%s beside auth.type %s stops loading, naming the integration, the key and why', (key, type, blocks) => {
    const err = hubErrorOf(() => parseConfigValue(ak(blocks), FILE, () => {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toBe(`${FILE}: ${refusal(CALLED[type], key)}`);
  });

  it('the same blocks load beside oauth, and an integration with auth and without them loads', () => {
    expect(parseConfigValue(ak({ oauth: OAUTH, webhooks: WEBHOOKS, poll: POLL }), FILE, () => {}).integrations['ak']).toBeDefined();
    expect(parseConfigValue(ak(KEY), FILE, () => {}).integrations['ak']).toBeDefined();
    expect(parseConfigValue(ak(NONE), FILE, () => {}).integrations['ak']).toBeDefined();
  });

  it('beside both oauth and auth, the one mistake named is giving both', () => {
    const err = hubErrorOf(() => parseConfigValue(ak({ ...NONE, oauth: OAUTH, webhooks: WEBHOOKS }), FILE, () => {}));
    expect(err.message).toBe(`${FILE}: integrations.ak.auth: give either "oauth" (each user links an account) or "auth" (one API key, or none)`);
  });

  it.each([
    [{ type: 'apiKey' }, { webhooks: { scheme: 'github' } }, ['webhooks']],
    [{ type: 'none' }, { webhooks: { scheme: 'github' } }, ['webhooks']],
    [{ type: 'none' }, { poll: POLL }, ['poll']],
  ])('a built-in definition with auth %o and %o is refused the same way', (auth, blocks, paths) => {
    const r = integrationSchema.safeParse({ name: 'ak', title: 'AK', auth, apiBaseUrl: 'https://api.ak.test', tools: {}, ...blocks });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toEqual(paths);
  });
});

/** What a user sees: the built CLI reading the config file (build first: `npm run build`). */
describe('doctor and serve say it as they say any config error', () => {
  const dir = tmpDir('switchboard-open-events-');
  afterAll(() => dir.remove());

  it('doctor fails its config check and serve stops before it starts, both naming the file and the key', async () => {
    const file = join(dir.path, 'switchboard.config.json');
    writeFileSync(file, JSON.stringify({ dataDir: join(dir.path, 'data'), ...ak({ ...NONE, webhooks: WEBHOOKS }) }));
    const said = `${file}: ${refusal(CALLED.none, 'webhooks')}`;
    const doctor = await runCli(['doctor', '--json', '--config', file], dir.path);
    expect(doctor.code).toBe(1);
    expect(JSON.parse(doctor.stdout)).toEqual({ ok: false, checks: [{ ok: false, line: `config: ${said}` }] });
    const serve = await runCli(['serve', '--config', file, '--port', '0'], dir.path);
    expect(serve).toEqual({ code: 1, stdout: '', stderr: `switchboard: error (config_invalid): ${said}\n` });
  });
});
