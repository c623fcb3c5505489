import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { CASES } from './schemes-signers.js';
import { hookName, schemeIntegrations, standardHeaders } from './route-harness.js';

/**
 * SIGTERM while a provider's delivery is being read: the stopping hub finishes reading it, stores
 * it and answers (with `Connection: close`), rather than cutting the socket with no answer, which
 * a provider counts as a failed attempt against its retries. Two providers' deliveries at once.
 */
const c = CASES.find((x) => x.scheme === 'standard-webhooks')!;
const path = `/webhooks/${hookName(c.scheme)}`;

let hub: RunningHub | undefined;
afterEach(async () => {
  await hub?.stop();
  hub = undefined;
});

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

/** Starts a delivery whose body is sent in two halves; `finish` sends the rest. */
function slowDelivery(url: string, body: string, id: string): { answer: Promise<Answer>; finish: () => void } {
  const half = Math.floor(body.length / 2);
  let finish = () => {};
  const answer = new Promise<Answer>((resolve, reject) => {
    const req = request(
      `${new URL(url).origin}${path}`,
      { method: 'POST', headers: { ...standardHeaders(c.secrets[0]!, id, body), 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, half));
    finish = () => req.end(body.slice(half));
  });
  return { answer, finish };
}

describe('a stopping hub answers the webhook deliveries it is reading', () => {
  it('two deliveries under way when stop begins are stored and answered 200 before the listener closes', async () => {
    const config = { integrations: schemeIntegrations(), server: { port: 0 } };
    const listener = await bindHttp(configSchema.parse({ ...config, integrations: {} }).server, { host: '127.0.0.1' });
    let received = 0;
    listener.server.on('request', () => received++);
    hub = await startHub(config, { listener });
    const running = hub;
    const deliveries = ['a', 'b'].map((who) => {
      const id = `msg_${who}_${randomUUID()}`;
      return { id, ...slowDelivery(running.url, JSON.stringify({ id, who, padding: 'x'.repeat(512) }), id) };
    });
    // Both requests reached the hub (their headers are parsed) before the stop.
    await expect.poll(() => received, { interval: 5 }).toBe(2);
    const stopping = running.hub.stop();
    for (const d of deliveries) d.finish();
    const answers = await Promise.all(deliveries.map((d) => d.answer));
    for (const a of answers) {
      expect(a.status, a.body).toBe(200);
      expect(a.connection).toBe('close');
      expect(JSON.parse(a.body)).toMatchObject({ ok: true, duplicate: false });
    }
    await stopping;
  });
});
