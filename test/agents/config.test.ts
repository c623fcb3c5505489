import { describe, expect, it } from 'vitest';
import { sessionIdentity } from '../../src/agents/session.js';
import { atPath } from '../../src/agents/validate-output.js';
import { isUnpinned, unpinnedSegment } from '../../src/definition/agents.js';
import { loadConfig, parseConfigValue } from '../../src/config/load.js';
import { HubError } from '../../src/errors.js';
import { startHub, tmpDir } from '../helpers/hub.js';

const FILE = 'switchboard.config.json';
const KEY = 'ua_live_never_in_errors_41b7';
const ok = { protocol: 'upagents', baseUrl: 'https://api.upagents.app/v1', agentId: 'agent_support_triage_v4', apiKey: KEY };

function refusal(agents: Record<string, unknown>): HubError {
  try {
    parseConfigValue({ agents }, FILE);
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
  throw new Error('the config was accepted');
}

describe('bad agent config stops start-up with a message naming the agent and the key', () => {
  it.each([
    ['an unknown protocol', { triage: { ...ok, protocol: 'soap' } }, 'agents.triage.protocol'],
    ['a missing key', { triage: { ...ok, apiKey: undefined } }, 'agents.triage.apiKey: Invalid input: expected string, received undefined'],
    ['a missing base URL', { triage: { ...ok, baseUrl: undefined } }, 'agents.triage.baseUrl'],
    ['an unknown key', { triage: { ...ok, retry: 3 } }, 'unknown key agents.triage.retry'],
    [
      'an unpinned id',
      { triage: { ...ok, agentId: 'agent_support_triage_latest' } },
      'agents.triage.agentId: "agent_support_triage_latest" follows a latest alias',
    ],
    ['an id following latest after a dot', { triage: { ...ok, agentId: 'triage.latest' } }, 'agents.triage.agentId: "triage.latest" follows a latest alias'],
    [
      'a kore URL ending in a latest segment',
      { helpdesk: { protocol: 'kore', url: 'https://kore.example/agents/helpdesk/latest?key=k' } },
      'agents.helpdesk.url: its path segment "latest" follows a latest alias: pin a version in the URL',
    ],
    [
      'a kore URL on the hub with a latest segment inside its path',
      { helpdesk: { protocol: 'kore', url: '/sandbox/kore/latest/run', agentId: 'helpdesk_v2' } },
      'agents.helpdesk.url: its path segment "latest" follows a latest alias',
    ],
    [
      'an http URL whose path follows a latest alias',
      { weather: { protocol: 'http', url: 'https://api.example/agents/forecast@latest/q?city={{input}}' } },
      'agents.weather.url: its path segment "forecast@latest" follows a latest alias',
    ],
    ['a fallback naming no agent', { triage: { ...ok, fallback: 'basic' } }, 'agents.triage.fallback: names "basic", which is not a configured agent'],
    ['a fallback in a list naming no agent', { triage: { ...ok, fallback: ['triage2', 'nope'] }, triage2: ok }, 'agents.triage.fallback.1: names "nope"'],
    [
      'a fallback cycle',
      { a: { ...ok, fallback: 'b' }, b: { ...ok, fallback: ['c'] }, c: { ...ok, fallback: 'a' } },
      'agents.a.fallback: fallbacks form a cycle: a → b → c → a',
    ],
    ['an agent its own fallback', { a: { ...ok, fallback: 'a' } }, 'agents.a.fallback: agent "a" cannot be its own fallback'],
    [
      'a sync agent falling back to an async one (it would be sent a task with no callback)',
      { a: { ...ok, fallback: 'b' }, b: { ...ok, mode: 'async', webhookSecret: 'whsec_x' } },
      'agents.a.fallback: names "b", which runs async: "a" answers within its call, so its fallbacks must too',
    ],
    [
      'a stream agent falling back to an async kore one',
      { a: { ...ok, mode: 'stream', fallback: ['k'] }, k: { protocol: 'kore', url: 'https://kore.example/agent', async: true } },
      'agents.a.fallback.0: names "k", which runs async',
    ],
    ['an output schema that is not an object', { a: { ...ok, outputSchema: { type: 'string' } } }, 'agents.a.outputSchema.type: must be "object"'],
    ['an input schema that is not an object', { a: { ...ok, inputSchema: { type: 'string' } } }, 'agents.a.inputSchema.type: must be "object"'],
    [
      'a schema with a type no validator knows',
      { a: { ...ok, outputSchema: { type: 'object', properties: { category: { type: 'nonsense' } } } } },
      'agents.a.outputSchema: properties.category.type: "nonsense" is not a JSON type',
    ],
    [
      'a schema referring to another document',
      { a: { ...ok, inputSchema: { type: 'object', properties: { x: { $ref: 'http://example.com/s.json' } } } } },
      'agents.a.inputSchema: properties.x.$ref: only references inside the schema',
    ],
    [
      'a minConfidence path that is not a JSON path',
      { a: { ...ok, minConfidence: { path: '$..x', min: 0.5 } } },
      'agents.a.minConfidence.path: is not a JSON path',
    ],
    ['the reserved name task_status', { task_status: ok }, 'agents.task_status'],
    [
      'an http agent whose placeholder names an argument the tool never takes (no inputSchema: it takes { input })',
      { h: { protocol: 'http', url: 'https://api.example/forecast/{{input.city}}' } },
      'agents.h.url: {{input.city}} names the argument "city", which the tool does not take (its arguments: input); declare it in inputSchema',
    ],
    [
      'an http agent whose body names an argument its closed inputSchema lacks',
      {
        h: {
          protocol: 'http',
          url: 'https://api.example/x',
          body: { q: '{{input.query}}', n: '{{ input.limt }}' },
          inputSchema: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'integer' } } },
        },
      },
      'agents.h.body.n: {{ input.limt }} names the argument "limt", which the tool does not take (its arguments: query, limit)',
    ],
  ])('%s', (_what, agents, expected) => {
    const err = refusal(agents);
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(expected);
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain(KEY);
  });

  it('an async agent may fall back to an async or a sync one (its call carries a callback URL for each)', () => {
    const asyncOk = { ...ok, mode: 'async', webhookSecret: 'whsec_x' };
    const c = parseConfigValue({ agents: { a: { ...asyncOk, fallback: ['b', 'c'] }, b: asyncOk, c: ok } }, FILE);
    expect(c.agents['a']).toMatchObject({ fallback: ['b', 'c'] });
  });

  it('an http agent may name {{input.input}} without an inputSchema, and any argument of an open one', () => {
    const c = parseConfigValue(
      {
        agents: {
          plain: { protocol: 'http', url: 'https://api.example/q/{{input.input}}' },
          open: { protocol: 'http', url: 'https://api.example/q/{{input.anything}}', inputSchema: { type: 'object', additionalProperties: true } },
        },
      },
      FILE,
    );
    expect(Object.keys(c.agents)).toEqual(['plain', 'open']);
  });

  it('a latest alias is accepted when the entry allows it', () => {
    const c = parseConfigValue({ agents: { triage: { ...ok, agentId: 'triage@latest', allowLatest: true } } }, FILE);
    expect(c.agents['triage']).toMatchObject({ agentId: 'triage@latest', mode: 'sync', timeoutMs: 30_000, retries: 2, waitMs: 20_000 });
    const urls = parseConfigValue(
      {
        agents: {
          helpdesk: { protocol: 'kore', url: 'https://kore.example/agents/helpdesk/latest', allowLatest: true },
          weather: { protocol: 'http', url: 'https://api.example/latest/q', allowLatest: true },
        },
      },
      FILE,
    );
    expect(Object.keys(urls.agents)).toEqual(['helpdesk', 'weather']);
  });

  it('an id or URL with no version at all is not refused (too many vendors have none)', () => {
    const c = parseConfigValue(
      {
        agents: {
          triage: { ...ok, agentId: 'agent_support_triage' },
          helpdesk: { protocol: 'kore', url: 'https://kore.example/agents/helpdesk' },
          news: { protocol: 'http', url: 'https://api.example/latest-news/q?version=latest' },
        },
      },
      FILE,
    );
    expect(Object.keys(c.agents)).toEqual(['triage', 'helpdesk', 'news']);
  });

  it.each([
    ['https://kore.example/agents/x/latest', 'latest'],
    ['https://kore.example/latest/agents/x', 'latest'],
    ['https://kore.example/agents/x@latest/run', 'x@latest'],
    ['https://kore.example/agents/%6Catest', 'latest'],
    ['/sandbox/kore/v1.latest', 'v1.latest'],
    ['https://kore.example/agents/x/v3', undefined],
    ['https://kore.example/agents/latest-news', undefined],
    ['https://kore.example/agents/x?version=latest', undefined],
  ])('the latest segment of %s is %s', (url, segment) => {
    expect(unpinnedSegment(url)).toBe(segment);
  });

  it.each([
    ['latest', true],
    ['triage:latest', true],
    ['triage@latest', true],
    ['agent_support_triage_latest', true],
    ['a.latest', true],
    ['triage-2.LATEST', true],
    ['agent_support_triage', false],
    ['agent_support_triage_v4', false],
    ['triage@1.4.2', false],
    ['latest_news_v2', false],
  ])('pinning: %s unpinned is %s', (id, unpinned) => {
    expect(isUnpinned(id)).toBe(unpinned);
  });

  it('async entries start (kore with or without a webhookSecret); async upagents without a webhookSecret is refused naming the key', async () => {
    const kore = { protocol: 'kore', url: 'https://kore.example.test/agent', headers: { authorization: `Bearer ${KEY}` }, async: true, timeoutMs: 60_000 };
    expect(refusal({ helpdesk: { ...kore, url: 'not a url' } }).message).toContain('agents.helpdesk.url');
    // Refused by the config check itself, so `doctor` and every start name the file too.
    expect(refusal({ triage: { ...ok, mode: 'async' } }).message).toContain(
      'agents.triage.webhookSecret: required with mode "async" (the agent\'s callbacks are verified with it)',
    );
    await expect(startHub({ agents: { triage: { ...ok, mode: 'async' } } })).rejects.toThrow(/webhookSecret/);
    const hub = await startHub({
      agents: { helpdesk: kore, triage: { ...ok, mode: 'async', webhookSecret: 'whsec_x' }, off: { ...ok, mode: 'async', disabled: true } },
    });
    await hub.stop();
  });

  it('the embedded default config (no file) lists the sandbox agents, pinned', () => {
    const dir = tmpDir();
    try {
      const { config, file } = loadConfig({ cwd: dir.path, env: {} });
      expect(file).toBeUndefined();
      expect(Object.keys(config.agents)).toEqual(['echo', 'support_triage', 'writer', 'echo_async', 'memory', 'storyteller', 'forecast']);
      // One of each protocol and mode, all on the hub's own sandbox marketplace, each pinned.
      const { echo, writer, echo_async, memory, storyteller, forecast } = config.agents;
      for (const a of [echo, writer, echo_async]) expect(a).toMatchObject({ protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1' });
      expect([echo?.protocol === 'upagents' && echo.mode, writer, echo_async]).toMatchObject([
        'sync',
        { mode: 'stream' },
        { mode: 'async', webhookSecret: 'whsec_sandbox_local' },
      ]);
      expect(memory).toMatchObject({ protocol: 'kore', url: '/sandbox/marketplace/kore/agents/memory_v1', async: false, stream: false, debug: true });
      expect(storyteller).toMatchObject({ protocol: 'kore', stream: true });
      expect(forecast).toMatchObject({ protocol: 'http', url: '/sandbox/marketplace/http/v1/forecast/{{input.city}}' });
      for (const a of Object.values(config.agents)) expect(a.agentId).toMatch(/_v\d+$/);
    } finally {
      dir.remove();
    }
  });
});

describe('session identities and JSON paths', () => {
  const key = Buffer.alloc(32, 7);
  const alice = { tenant: 't', user: 'alice', scopes: [] };

  it('are stable per (tenant, user, agent), distinct otherwise, and hold no user id', () => {
    const a = sessionIdentity(key, alice, 'echo');
    expect(sessionIdentity(key, alice, 'echo')).toBe(a);
    expect(sessionIdentity(key, { ...alice, user: 'bob' }, 'echo')).not.toBe(a);
    expect(sessionIdentity(key, { ...alice, tenant: 'u' }, 'echo')).not.toBe(a);
    expect(sessionIdentity(key, alice, 'writer')).not.toBe(a);
    expect(sessionIdentity(Buffer.alloc(32, 8), alice, 'echo')).not.toBe(a);
    // Length-prefixed fields: moving a separator between fields gives another identity.
    expect(sessionIdentity(key, { tenant: 't:a', user: 'b', scopes: [] }, 'x')).not.toBe(sessionIdentity(key, { tenant: 't', user: 'a:b', scopes: [] }, 'x'));
    expect(a).not.toContain('alice');
  });

  it('a tool schema that leaves out its type is an object schema, as MCP clients check', () => {
    const parsed = parseConfigValue(
      { agents: { a: { ...ok, inputSchema: { properties: { q: { type: 'string' } } }, outputSchema: { required: ['x'] } } } },
      FILE,
    );
    expect(parsed.agents['a']).toMatchObject({
      inputSchema: { type: 'object', properties: { q: { type: 'string' } } },
      outputSchema: { type: 'object', required: ['x'] },
    });
  });

  it.each([
    ['$.confidence', { confidence: 0.9 }, 0.9],
    ['confidence', { confidence: 0.9 }, 0.9],
    ['$.output.scores[1].value', { output: { scores: [{ value: 1 }, { value: 2 }] } }, 2],
    ["$['odd key']", { 'odd key': 3 }, 3],
    ['$.missing.deeper', { other: 1 }, undefined],
    ['$..wild', { wild: 1 }, undefined],
  ])('atPath %s', (path, value, expected) => {
    expect(atPath(value, path)).toBe(expected);
  });
});
