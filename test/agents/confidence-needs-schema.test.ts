/**
 * `minConfidence` reads a number from the structured output. A Kore agent, or a streaming upagents
 * one, answers text unless its entry declares an `outputSchema`, so such an entry without one could
 * never pass the check: start-up refuses it, naming the agent and the key.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { HubError } from '../../src/errors.js';

const FILE = 'switchboard.config.json';
const CONFIDENCE = { path: '$.confidence', min: 0.7 };
const OUT = { type: 'object', properties: { answer: { type: 'string' }, confidence: { type: 'number' } } };
const kore = { protocol: 'kore', url: 'https://kore.example/agents/helpdesk_v2' };
const upagents = { protocol: 'upagents', baseUrl: 'https://api.upagents.app/v1', agentId: 'writer_v1', apiKey: 'ua_key' };

function refusal(agents: Record<string, unknown>): string {
  try {
    parseConfigValue({ agents }, FILE);
  } catch (err) {
    if (err instanceof HubError) return err.message;
    throw err;
  }
  throw new Error('the config was accepted');
}

describe('minConfidence on an agent that answers text', () => {
  it.each([
    ['a Kore agent', { helpdesk: { ...kore, minConfidence: CONFIDENCE } }, 'agents.helpdesk.minConfidence: needs an outputSchema'],
    ['a streaming Kore agent', { helpdesk: { ...kore, stream: true, minConfidence: CONFIDENCE } }, 'agents.helpdesk.minConfidence: needs an outputSchema'],
    [
      'a streaming upagents agent',
      { writer: { ...upagents, mode: 'stream', minConfidence: CONFIDENCE } },
      'agents.writer.minConfidence: needs an outputSchema',
    ],
  ])('is refused at start-up for %s without an outputSchema', (_what, agents, message) => {
    expect(refusal(agents)).toContain(message);
  });

  it('is accepted with an outputSchema, and on agents whose output is JSON (sync upagents, http)', () => {
    const agents = {
      helpdesk: { ...kore, outputSchema: OUT, minConfidence: CONFIDENCE },
      writer: { ...upagents, mode: 'stream', outputSchema: OUT, minConfidence: CONFIDENCE },
      triage: { ...upagents, minConfidence: CONFIDENCE },
      lookup: { protocol: 'http', url: 'https://api.example/v1/classify', minConfidence: CONFIDENCE },
    };
    expect(Object.keys(parseConfigValue({ agents }, FILE).agents)).toEqual(['helpdesk', 'writer', 'triage', 'lookup']);
  });
});
