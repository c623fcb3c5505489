import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp, type HttpListener } from '../../src/http/listener.js';

describe('requests born with the app’s prototypes', () => {
  const listeners: HttpListener[] = [];
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((l) => l.close()));
  });

  it('gives requests and responses the express app’s prototypes as they are made, so express’s own setPrototypeOf changes nothing', async () => {
    const listener = await bindHttp(configSchema.parse({}).server, { port: 0, host: '127.0.0.1' });
    listeners.push(listener);
    const base = `http://127.0.0.1:${listener.port}`;
    // Before serve: node's own, for the "starting" answers.
    const before: { req?: object | null; res?: object | null } = {};
    const peek = (req: IncomingMessage, res: ServerResponse) => {
      before.req = Object.getPrototypeOf(req) as object | null;
      before.res = Object.getPrototypeOf(res) as object | null;
    };
    listener.server.prependListener('request', peek);
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
    expect(before.req).not.toBe(null);
    expect(Object.getPrototypeOf(before.req!)).toBe(Object.getPrototypeOf(Object.getPrototypeOf(express.request)));

    const app = express();
    app.get('/x', (req, res) => {
      res.json({ same: Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response });
    });
    listener.serve({ handle: app, prototypes: { request: app.request, response: app.response } });
    const answer = await fetch(`${base}/x`);
    expect(await answer.json()).toEqual({ same: true });
    // Seen before any handler ran: born with them, not given them by express.
    expect(before.req).toBe(app.request);
    expect(before.res).toBe(app.response);
  });

  it('refuses prototypes that do not inherit from node’s request and response', async () => {
    const listener = await bindHttp(configSchema.parse({}).server, { port: 0, host: '127.0.0.1' });
    listeners.push(listener);
    expect(() => listener.serve({ handle: () => {}, prototypes: { request: {}, response: {} } })).toThrow(/inherit from node/);
  });
});
