/**
 * The generic `http` protocol end to end: a request definition in config (URL and body from
 * placeholders, a secret header from the environment, the answer mapped by JSON paths), served
 * by the sandbox's forecast agent on a real hub, called by real MCP clients of both eras. Bad
 * definitions are refused by the config loader, naming the agent and the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { HubError } from '../../src/errors.js';
import { CLIENT_KINDS, argumentRefusal, connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';

const KEY = 'http_sandbox_local';
const WRONG_KEY = 'wrong-key-never-shown-5c1e';
const FILE = 'switchboard.config.json';
const BASE = '/sandbox/marketplace/http/v1';
const IN = {
  type: 'object',
  properties: { city: { type: 'string' }, question: { type: 'string' }, days: { type: 'integer' }, units: { enum: ['metric', 'imperial'] } },
  required: ['city', 'question'],
};
const OUT = {
  type: 'object',
  properties: { summary: { type: 'string' }, highs: { type: 'array', items: { type: 'number' } }, city: { type: 'string' } },
  required: ['summary', 'highs'],
};
const forecast = (over: Record<string, unknown> = {}) => ({
  protocol: 'http',
  url: `${BASE}/forecast/{{input.city}}?units={{ input.units }}`,
  headers: { 'X-Api-Key': '${HTTP_AGENT_KEY}' },
  body: { question: '{{input.question}}', days: '{{input.days}}', session: '{{sessionId}}', call: 'call {{callId}}' },
  response: { output: { summary: '$.data.summary', highs: '$.data.highs', city: 'data.city' }, error: '$.error.message', taskId: '$.request_id' },
  inputSchema: IN,
  outputSchema: OUT,
  ...over,
});

/** The agents block as a config file holds it: `${HTTP_AGENT_KEY}` is put in by the loader. */
const FILE_TEXT = JSON.stringify({
  agents: {
    forecast: forecast(),
    echoing: forecast({
      headers: { 'X-Api-Key': '${HTTP_AGENT_KEY}', 'x-sandbox-echo-headers': '1' },
      response: { output: '$.data' },
      outputSchema: undefined,
    }),
    wrong_key: forecast({ headers: { 'X-Api-Key': WRONG_KEY }, retries: 0 }),
    flaky: forecast({ url: `${BASE}/forecast+fail=503+fail-times=1/{{input.city}}`, retries: 1 }),
  },
});

interface Seen {
  method: string;
  path: string;
  query: Record<string, unknown>;
  body: Record<string, unknown>;
}

describe('http agents through the hub', () => {
  let hub: RunningHub;
  const logLines: string[] = [];

  beforeAll(async () => {
    const { agents } = parseConfigText(FILE_TEXT, FILE, { HTTP_AGENT_KEY: KEY });
    hub = await startHub(
      { integrations: { sandbox: {} }, agents, logLevel: 'debug' },
      { log: capturedLogger(logLines, 'debug'), agents: { sleep: async () => {} } },
    );
  });

  afterAll(async () => {
    await hub?.stop();
  });

  const lastSeen = async (): Promise<Seen> => {
    const stats = (await (await fetch(new URL('/sandbox/marketplace/http/_stats', hub.url), { headers: { 'x-api-key': KEY } })).json()) as { requests: Seen[] };
    return stats.requests.at(-1)!;
  };

  describe.each(CLIENT_KINDS)('%s client', (kind) => {
    let client: FaceClient;
    beforeAll(async () => {
      client = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
    });
    afterAll(async () => {
      await client?.close();
    });

    it('the request is built from the arguments and the answer mapped by JSON paths', async () => {
      const r = await client.callTool('agent__forecast', { city: 'Lisbon', question: 'beach?', days: 2, units: 'imperial' });
      expect(r.isError).toBe(false);
      const out = r.structuredContent as { summary: string; highs: number[]; city: string };
      expect(Object.keys(out).sort()).toEqual(['city', 'highs', 'summary']);
      expect(out.city).toBe('Lisbon');
      expect(out.highs).toHaveLength(2);
      expect(out.summary).toBe(`Lisbon: highs of ${out.highs.join(', ')} °F over 2 days (asked: beach?)`);
      const seen = await lastSeen();
      expect(seen.method).toBe('POST');
      expect(seen.path).toBe('/v1/forecast/Lisbon');
      expect(seen.query).toEqual({ units: 'imperial' });
      // A placeholder alone keeps its JSON type (days is a number); inside text it becomes text.
      expect(seen.body).toEqual({
        question: 'beach?',
        days: 2,
        session: expect.stringMatching(/^sbs_[A-Za-z0-9_-]{32}$/),
        call: expect.stringMatching(/^call [0-9a-f-]{36}$/),
      });
    });
  });

  it('a value is one percent-encoded URL component; an argument not given leaves its body key and its query parameter out', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const r = await c.callTool('agent__forecast', { city: 'São Paulo/centro?x=1', question: 'rain?' });
      expect(r.isError).toBe(false);
      const out = r.structuredContent as { summary: string; highs: number[]; city: string };
      expect(out.city).toBe('São Paulo/centro?x=1');
      // No `days` argument: no `days` key, and the agent's default of 3 applies.
      expect(out.highs).toHaveLength(3);
      const seen = await lastSeen();
      expect(seen.path).toBe('/v1/forecast/S%C3%A3o%20Paulo%2Fcentro%3Fx%3D1');
      // No `units` argument: the query parameter that is only its placeholder is left out, not sent empty.
      expect(seen.query).toEqual({});
      expect(Object.keys(seen.body).sort()).toEqual(['call', 'question', 'session']);
      // A dot-segment would climb out of the path: refused as invalid arguments, nothing sent.
      const before = (await lastSeen()).body['call'];
      expect(argumentRefusal(await c.callTool('agent__forecast', { city: '..', question: 'x' }))).toContain('agent__forecast');
      expect((await lastSeen()).body['call']).toBe(before);
    } finally {
      await c.close();
    }
  });

  it("the agent's error field is an isError result naming the agent; a 503 is retried", async () => {
    const c = await connectClient('v2-legacy', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const r = await c.callTool('agent__forecast', { city: 'Oslo', question: 'snow?', days: 20 });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toBe('agent forecast reported error: forecasts go 14 days ahead at most, not 20');
      const flaky = await c.callTool('agent__flaky', { city: 'Oslo', question: 'snow?' });
      expect(flaky.isError).toBe(false);
      expect((flaky.structuredContent as { city: string }).city).toBe('Oslo');
    } finally {
      await c.close();
    }
  });

  it('a secret header value never appears in results, errors or logs', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      // The agent echoes the headers it got, the key among them.
      const echoed = await c.callTool('agent__echoing', { city: 'Rome', question: 'sun?' });
      expect(echoed.isError).toBe(false);
      const headers = (JSON.parse(textOf(echoed)) as { headers: Record<string, string> }).headers;
      expect(headers['x-api-key']).toBe('[redacted]');
      expect(JSON.stringify(echoed)).not.toContain(KEY);
      // The agent refuses a wrong key and quotes it in its 401.
      const refused = await c.callTool('agent__wrong_key', { city: 'Rome', question: 'sun?' });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toBe(
        'agent wrong_key answered 401: {"error":"the key \\"[redacted]\\" is not valid here"}; agent wrong_key refused the hub\'s credentials: check the key configured for agents.wrong_key',
      );
      expect(JSON.stringify(refused)).not.toContain(WRONG_KEY);
    } finally {
      await c.close();
    }
    const logs = logLines.join('');
    expect(logs).toContain('agent answered');
    expect(logs).toContain('agent gave no answer');
    expect(logs).not.toContain(KEY);
    expect(logs).not.toContain(WRONG_KEY);
  });
});

describe('bad http and kore definitions stop start-up, naming the agent and the key', () => {
  const SECRET = 'sk_live_never_in_errors_93d1';
  const ok = { protocol: 'http', url: 'https://api.example.test/v1/ask', headers: { authorization: `Bearer ${SECRET}` } };
  const kore = { protocol: 'kore', url: 'https://kore.example.test/agent', headers: { authorization: `Bearer ${SECRET}` } };

  function refusal(agents: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): HubError {
    try {
      parseConfigText(JSON.stringify({ agents }), FILE, env);
    } catch (err) {
      return err as HubError;
    }
    throw new Error('the config was accepted');
  }

  it.each([
    ['a placeholder that names nothing', { ask: { ...ok, body: { q: { text: '{{inptu.q}}' } } } }, 'agents.ask.body.q.text: unknown placeholder {{inptu.q}}'],
    ['a placeholder in the host', { ask: { ...ok, url: 'https://{{input.host}}/v1/ask' } }, 'agents.ask.url'],
    [
      'a placeholder right after the host',
      { ask: { ...ok, url: 'https://api.example.test{{input.p}}' } },
      'agents.ask.url: may hold placeholders only after the host',
    ],
    [
      'a placeholder in the URL that names nothing',
      { ask: { ...ok, url: 'https://api.example.test/v1/{{city}}' } },
      'agents.ask.url: unknown placeholder {{city}}',
    ],
    ['a response path that is not one', { ask: { ...ok, response: { output: '$.data[' } } }, 'agents.ask.response.output: is not a JSON path'],
    ['a mapped field whose path is not one', { ask: { ...ok, response: { output: { a: 'x..y' } } } }, 'agents.ask.response.output.a: is not a JSON path'],
    ['an unknown response key', { ask: { ...ok, response: { outputs: '$' } } }, 'unknown key agents.ask.response.outputs'],
    ['a GET with a body', { ask: { ...ok, method: 'GET', body: { q: '{{input.q}}' } } }, 'agents.ask.body: a GET request carries no body'],
    ['an unknown method', { ask: { ...ok, method: 'TRACE' } }, 'agents.ask.method'],
    ['a missing URL', { ask: { ...ok, url: undefined } }, 'agents.ask.url'],
    ['a URL of another scheme', { ask: { ...ok, url: 'ftp://api.example.test/ask' } }, 'agents.ask.url: must be an http(s) URL'],
    ['a kore URL that is not one', { desk: { ...kore, url: 'kore agent' } }, 'agents.desk.url: must be an http(s) URL'],
    ['a kore agent both async and streamed', { desk: { ...kore, async: true, stream: true } }, 'agents.desk.stream: cannot be true with async: true'],
    ['a kore unpinned id', { desk: { ...kore, agentId: 'helpdesk:latest' } }, 'agents.desk.agentId: "helpdesk:latest" follows a latest alias'],
    ['an unknown kore key', { desk: { ...kore, streamMode: 'token' } }, 'unknown key agents.desk.streamMode'],
  ])('%s', (_what, agents, expected) => {
    const err = refusal(agents);
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(expected);
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain(SECRET);
  });

  it('a secret header from an unset environment variable names the agent and the header', () => {
    const err = refusal({ ask: { ...ok, headers: { 'X-Api-Key': '${ASK_KEY}' } } });
    expect(err.message).toBe(`${FILE}: agents.ask.headers.X-Api-Key: environment variable ASK_KEY is not set`);
  });

  it('a good definition gets its defaults', () => {
    const { agents } = parseConfigText(JSON.stringify({ agents: { ask: ok, desk: kore } }), FILE, {});
    expect(agents['ask']).toMatchObject({ method: 'POST', response: { output: '$' }, timeoutMs: 30_000, retries: 2 });
    expect(agents['desk']).toMatchObject({ async: false, stream: false, debug: false });
  });
});
