/**
 * A local `$ref` in an agent's schema must point at a schema in it: one that points nowhere (a
 * `$defs` block forgotten or misspelt) compiles in no validator, and an SDK client that lists it
 * can use no tool of the hub. Such a schema stops start-up naming the agent, the key and where the
 * reference is; the pointers the clients resolve (escaped `~1` and `~0`, percent-encoded, an
 * `$anchor`) are accepted, and the hub's SDK clients list and call the agent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { HubError } from '../../src/errors.js';
import { CLIENT_KINDS, connectClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { SB } from './support.js';

const ok = { protocol: 'upagents', baseUrl: 'https://api.upagents.app/v1', agentId: 'agent_support_triage_v4', apiKey: 'ua_live_refs_k' };

function refusal(agents: Record<string, unknown>): string {
  try {
    parseConfigValue({ agents }, 'switchboard.config.json');
  } catch (err) {
    if (err instanceof HubError && err.code === 'config_invalid') return err.message;
    throw err;
  }
  throw new Error('the config was accepted');
}

describe('a local $ref that points to no schema stops start-up', () => {
  it.each([
    [
      'an output schema whose $defs block is missing',
      { triage: { ...ok, outputSchema: { type: 'object', properties: { category: { $ref: '#/$defs/category' } }, required: ['category'] } } },
      'agents.triage.outputSchema: properties.category.$ref: "#/$defs/category" points to no schema in this one',
    ],
    [
      'an input schema whose definition is misspelt, referred to from an array',
      {
        triage: {
          ...ok,
          inputSchema: {
            $defs: { categroy: { type: 'string' } },
            type: 'object',
            properties: { tags: { type: 'array', items: { $ref: '#/$defs/category' } } },
          },
        },
      },
      'agents.triage.inputSchema: properties.tags.items.$ref: "#/$defs/category" points to no schema in this one',
    ],
    [
      'a pointer to a value that is no schema',
      { triage: { ...ok, outputSchema: { type: 'object', properties: { a: { type: 'string', minLength: 1 }, b: { $ref: '#/properties/a/minLength' } } } } },
      'agents.triage.outputSchema: properties.b.$ref: "#/properties/a/minLength" points to no schema',
    ],
    [
      'a pointer past the end of a list',
      { triage: { ...ok, outputSchema: { anyOf: [{ type: 'object' }], properties: { a: { $ref: '#/anyOf/1' } } } } },
      'agents.triage.outputSchema: properties.a.$ref: "#/anyOf/1" points to no schema',
    ],
    [
      'an anchor nothing declares',
      { triage: { ...ok, outputSchema: { type: 'object', properties: { a: { $ref: '#reply' } } } } },
      'agents.triage.outputSchema: properties.a.$ref: "#reply" points to no schema',
    ],
  ])('%s', (_what, agents, expected) => {
    expect(refusal(agents)).toContain(expected);
  });
});

/** The sandbox echo agent's output, each property through a reference the clients resolve. */
const RESOLVED = {
  $defs: { 'a/b': { type: 'string' }, 't~x': { type: 'number' }, 'a b': { type: 'string', minLength: 1 }, text: { $anchor: 'text', type: 'string' } },
  type: 'object',
  properties: {
    reply: { allOf: [{ $ref: '#/$defs/a~1b' }, { $ref: '#/$defs/a%20b' }, { $ref: '#/properties/session_id' }] },
    confidence: { $ref: '#/$defs/t~0x' },
    session_id: { $ref: '#text' },
  },
  required: ['reply', 'confidence'],
};

describe('local references that resolve', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: { refs: { ...SB, agentId: 'echo_v1', retries: 0, outputSchema: RESOLVED } } });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it.each(CLIENT_KINDS)('start the hub, and the %s client lists and calls the agent', async (kind) => {
    const client = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
    try {
      expect((await client.listPage()).tools.map((t) => t.name)).toContain('agent__refs');
      const r = await client.callTool('agent__refs', { input: 'pointers' });
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toMatchObject({ reply: 'echo: pointers' });
    } finally {
      await client.close();
    }
  });
});
