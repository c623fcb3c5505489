/**
 * A key or header value HTTP cannot carry (a zero-width space pasted with a key, a control
 * character), put in through `${ENV}`: start-up refuses it naming the agent and the key, never the
 * value. Had it started, every call would fail before anything was sent.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { HubError } from '../../src/errors.js';

const FILE = 'switchboard.config.json';
const SECRET = 'ua_live_abc123_never_shown';
const upagents = { protocol: 'upagents', baseUrl: 'https://api.upagents.app/v1', agentId: 'triage_v4', apiKey: '${UPAGENTS_API_KEY}' };
const kore = { protocol: 'kore', url: 'https://kore.example/agents/helpdesk_v2', headers: { authorization: 'Bearer ${KORE_TOKEN}' } };

function parse(agents: Record<string, unknown>, env: NodeJS.ProcessEnv): unknown {
  return parseConfigText(JSON.stringify({ agents }), FILE, env, () => {});
}

function refusal(agents: Record<string, unknown>, env: NodeJS.ProcessEnv): HubError {
  try {
    parse(agents, env);
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
  throw new Error('the config was accepted');
}

describe('a key or header value that is not an HTTP field value', () => {
  it.each([
    ['an apiKey with a zero-width space', { triage: upagents }, { UPAGENTS_API_KEY: `${SECRET}\u200b` }, 'agents.triage.apiKey: holds U+200B at character 27'],
    ['an apiKey with a line break', { triage: upagents }, { UPAGENTS_API_KEY: `${SECRET}\nx` }, 'agents.triage.apiKey: holds U+000A at character 27'],
    [
      'a header value with a non-breaking hyphen',
      { helpdesk: kore },
      { KORE_TOKEN: `${SECRET}\u2011x` },
      'agents.helpdesk.headers.authorization: holds U+2011 at character 34',
    ],
  ])('stops start-up for %s, naming the agent and the key, not the value', (_what, agents, env, message) => {
    const err = refusal(agents, env);
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(message);
    expect(err.message).not.toContain(SECRET);
    expect(JSON.stringify(err.details ?? {})).not.toContain(SECRET);
  });

  it('accepts spaces, tabs and Latin-1 octets, which HTTP carries', () => {
    expect(() => parse({ triage: upagents, helpdesk: kore }, { UPAGENTS_API_KEY: SECRET, KORE_TOKEN: 'a b\tcé' })).not.toThrow();
  });
});
