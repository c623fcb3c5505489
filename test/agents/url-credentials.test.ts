/**
 * Credentials in an agent's URL (`https://bot:<password>@host/…`) are refused with the config, as
 * they are in `server.publicUrl`: the URL is shown by `agents list` and in logs, and the Basic
 * credential built from it would not be scrubbed from answers. The refusal names the agent and the
 * key, points at `apiKey` / `headers`, and never echoes the password; the real CLI refuses the same
 * config before it prints anything.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { HubError } from '../../src/errors.js';
import { runCli, tmpDir } from '../helpers/hub.js';

const PASSWORD = 'KPASS_s3cr3t_77e1';

function refusal(agents: Record<string, unknown>): HubError {
  try {
    parseConfigValue({ agents }, 'switchboard.config.json');
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
  throw new Error('the config was accepted');
}

describe('an agent URL with credentials', () => {
  const dir = tmpDir();
  afterAll(() => dir.remove());

  it.each([
    [
      'a kore url',
      { helpdesk: { protocol: 'kore', url: `https://bot:${PASSWORD}@agents.example/kore/helpdesk` } },
      'agents.helpdesk.url: must have no credentials (user:password@): the URL is shown in lists and logs; send them in headers',
    ],
    [
      'an http url with a user only',
      { weather: { protocol: 'http', url: `https://${PASSWORD}@api.example/forecast/{{input.input}}` } },
      'agents.weather.url: must have no credentials',
    ],
    [
      'a upagents baseUrl',
      { triage: { protocol: 'upagents', baseUrl: `https://bot:${PASSWORD}@api.upagents.app/v1`, agentId: 'triage_v4', apiKey: 'ua_k' } },
      'agents.triage.baseUrl: must have no credentials (user:password@): the URL is shown in lists and logs; give the key as apiKey, other credentials in headers',
    ],
  ])('%s is refused naming the agent and the key, without the password', (_what, agents, expected) => {
    const err = refusal(agents);
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(expected);
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain(PASSWORD);
  });

  it('an @ in the path is no credential', () => {
    const c = parseConfigValue(
      { agents: { me: { protocol: 'kore', url: 'https://agents.example/users/@me/kore', agentId: 'me_v1' } } },
      'switchboard.config.json',
    );
    expect(c.agents['me']).toMatchObject({ url: 'https://agents.example/users/@me/kore' });
  });

  it('`switchboard agents list` refuses the config and prints no password', async () => {
    writeFileSync(
      join(dir.path, 'switchboard.config.json'),
      JSON.stringify({ agents: { helpdesk: { protocol: 'kore', url: `http://bot:${PASSWORD}@127.0.0.1:9/kore/helpdesk`, retries: 0 } } }),
    );
    const r = await runCli(['agents', 'list', '--data', join(dir.path, 'data')], dir.path);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('agents.helpdesk.url: must have no credentials');
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('`switchboard agents list` shows an unpinned URL without its query, which may carry a key', async () => {
    writeFileSync(
      join(dir.path, 'switchboard.config.json'),
      JSON.stringify({ agents: { weather: { protocol: 'http', url: 'http://127.0.0.1:9/forecast/{{input.input}}?key=wk_live_5e1f9a', retries: 0 } } }),
    );
    const r = await runCli(['agents', 'list', '--data', join(dir.path, 'data'), '--port', '1'], dir.path);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^weather\s+http\s+http:\/\/127\.0\.0\.1:9\/forecast\/\{\{input\.input\}\}\?…\s+sync/m);
    expect(r.stdout + r.stderr).not.toContain('wk_live_5e1f9a');
  });
});
