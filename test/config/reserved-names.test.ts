import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfigValue } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';
import { tmpDir } from '../helpers/hub.js';

const FILE = 'sb.json';
const CUSTOM = {
  type: 'custom',
  oauth: { authorizeUrl: 'https://acme.test/a', tokenUrl: 'https://acme.test/t', clientId: 'id', clientSecret: 's' },
  apiBaseUrl: 'https://api.acme.test',
  tools: { list: { description: 'Lists.', method: 'GET', path: '/things' } },
};

function messageOf(raw: unknown): string {
  const err = hubErrorOf(() => parseConfigValue(raw, FILE, () => {}));
  expect(err.code).toBe('config_invalid');
  return err.message;
}

const SOURCE = 'no source may be named "agent" or "queue" (the hub names its own tools agent__… and queue__…)';

describe('the hub’s own names are refused at config load', () => {
  it.each([
    [{ mcpServers: { agent: { command: 'node' } } }, `mcpServers.agent: "agent" is reserved: ${SOURCE}`],
    [{ mcpServers: { queue: { url: 'https://x.test/mcp' } } }, `mcpServers.queue: "queue" is reserved: ${SOURCE}`],
    [{ integrations: { queue: CUSTOM } }, `integrations.queue: "queue" is reserved: ${SOURCE}`],
    // A look-alike in another case would pass for the hub's tool in a client's list.
    [{ integrations: { Agent: {} } }, `integrations.Agent: "Agent" is reserved: ${SOURCE}`],
    [{ agents: { agent: {} } }, `agents.agent: "agent" is reserved: ${SOURCE}`],
    [
      { agents: { task_status: { protocol: 'kore' } } },
      'agents.task_status: "task_status" is reserved: no agent may be named "task_status" (the hub serves agent__task_status)',
    ],
    [
      { integrations: { acme: { ...CUSTOM, tools: { recent_events: { description: 'd', method: 'GET', path: '/e' } } } } },
      'integrations.acme.tools.recent_events: "recent_events" is reserved: no integration tool may be named "recent_events" (the hub serves <integration>__recent_events)',
    ],
  ])('%j', (raw, expected) => {
    expect(messageOf(raw)).toBe(`${FILE}: ${expected}`);
  });

  it('refuses one name for a downstream server and an integration, which share the tool namespace', () => {
    expect(messageOf({ mcpServers: { acme: { command: 'node' } }, integrations: { acme: CUSTOM } })).toBe(
      `${FILE}: integrations.acme: the source name "acme" is already used by mcpServers.acme`,
    );
  });

  it('refuses the conformance fixture’s name only while the fixture is on', () => {
    expect(messageOf({ fixtures: { conformance: true }, mcpServers: { conformance: { command: 'node' } } })).toBe(
      `${FILE}: mcpServers.conformance: the source name "conformance" is already used by fixtures.conformance`,
    );
    expect(Object.keys(parseConfigValue({ mcpServers: { conformance: { command: 'node' } } }, FILE).mcpServers)).toEqual(['conformance']);
  });

  it('keeps names that only contain a reserved word, and agents with their full schema', () => {
    const triage = { protocol: 'upagents', baseUrl: 'https://api.upagents.app/v1', agentId: 'agent_support_triage_v4', apiKey: 'k', retries: 3 };
    const c = parseConfigValue({ mcpServers: { agents: { command: 'node' }, queues: { command: 'node' } }, agents: { support_triage: triage } }, FILE);
    expect(Object.keys(c.mcpServers)).toEqual(['agents', 'queues']);
    expect(c.agents['support_triage']).toMatchObject(triage);
  });

  it('names the file a reserved name was read from', () => {
    const dir = tmpDir();
    try {
      const file = join(dir.path, 'switchboard.config.json');
      writeFileSync(file, JSON.stringify({ mcpServers: { queue: { command: 'node' } } }));
      const err = hubErrorOf(() => loadConfig({ file, env: {} }));
      expect(err.code).toBe('config_invalid');
      expect(err.message).toBe(`${file}: mcpServers.queue: "queue" is reserved: ${SOURCE}`);
      expect(err.details).toEqual({ file, issues: [{ path: 'mcpServers.queue', message: `"queue" is reserved: ${SOURCE}` }] });
    } finally {
      dir.remove();
    }
  });
});
