/**
 * A key an API takes in its query string or body (`?appid=${WEATHER_KEY}`, `"api_key": "${KEY}"`)
 * is a credential like a header's: an API that refuses it quotes it back, and one may echo the URL
 * it was sent; neither reaches the caller. A local server stands in for such an API.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { connectClient, textOf } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const KEY = 'wk_9f8e7d6c5b4a3210';
const BODY_KEY = 'bk_0123456789abcdef';

/** Refuses every key with the key quoted, as OpenWeather does; `/echo` answers the URL and body it got. */
function weatherApi(): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.setHeader('content-type', 'application/json');
      if (url.pathname.endsWith('/echo')) return void res.end(JSON.stringify({ url: req.url, body }));
      res.statusCode = 401;
      res.end(JSON.stringify({ cod: 401, message: `Invalid API key ${url.searchParams.get('appid')}` }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('credentials in an agent URL or body', () => {
  let api: Server;
  let hub: RunningHub;

  beforeAll(async () => {
    api = await weatherApi();
    const base = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    const agent = (path: string, over: Record<string, unknown> = {}) => ({
      protocol: 'http',
      url: `${base}${path}?q={{input.city}}&appid=\${WEATHER_KEY}&units=metric`,
      method: 'GET',
      retries: 0,
      inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      response: { output: '$' },
      ...over,
    });
    const text = JSON.stringify({
      agents: {
        weather: agent('/data/2.5/weather'),
        echo: agent('/echo'),
        posted: agent('/echo', { method: 'POST', url: `${base}/echo`, body: { city: '{{input.city}}', auth: { api_key: '${BODY_KEY}' } } }),
      },
    });
    const { agents } = parseConfigText(text, 'switchboard.config.json', { WEATHER_KEY: KEY, BODY_KEY });
    hub = await startHub({ agents }, { agents: { sleep: async () => {} } });
  });

  afterAll(async () => {
    await hub?.stop();
    await new Promise((r) => api?.close(r));
  });

  it('an API quoting a refused query key, or echoing the URL or body it was sent, does not hand the key to the caller', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const refused = await c.callTool('agent__weather', { city: 'Oslo' });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toContain('Invalid API key [redacted]');
      const echoed = await c.callTool('agent__echo', { city: 'Oslo' });
      expect(echoed.isError).toBe(false);
      const posted = await c.callTool('agent__posted', { city: 'Oslo' });
      expect(posted.isError).toBe(false);
      for (const r of [refused, echoed, posted]) {
        const all = JSON.stringify(r);
        expect(all).not.toContain(KEY);
        expect(all).not.toContain(BODY_KEY);
      }
      // What the caller chose (the city) and the settings beside the key are left as they were.
      expect(JSON.stringify(echoed.structuredContent ?? textOf(echoed))).toContain('q=Oslo');
      expect(JSON.stringify(echoed.structuredContent ?? textOf(echoed))).toContain('units=metric');
    } finally {
      await c.close();
    }
  });
});
