/**
 * A tool's path template through a real MCP client, against a local API that records what it is
 * sent: a placeholder that appears twice takes the argument's value at both places, and an object
 * given for a placeholder is refused (a tool error coded invalid_arguments) rather than sent as "[object Object]".
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argumentRefusal } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { connectMcp, type McpUser } from './mcp.js';

describe('path placeholders', () => {
  let api: Server;
  const seen: string[] = [];
  let hub: RunningHub;
  let mcp: McpUser;

  beforeAll(async () => {
    api = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    }).listen(0, '127.0.0.1');
    await once(api, 'listening');
    const apiBaseUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`;
    hub = await startHub({
      integrations: {
        acme: {
          type: 'custom',
          title: 'Acme',
          auth: { type: 'none' },
          apiBaseUrl,
          tools: {
            member: {
              description: 'A member of an org, listed under the org',
              method: 'GET',
              path: '/orgs/{org}/members/{user}?org={org}',
              readOnly: true,
              input: {
                type: 'object',
                properties: { org: { type: 'string' }, user: { type: 'string' }, page: { type: 'integer' } },
                required: ['org', 'user'],
              },
            },
            anything: {
              description: 'A thing by an id of any type',
              method: 'GET',
              path: '/things/{id}',
              readOnly: true,
              input: { type: 'object', properties: { id: {} }, required: ['id'] },
            },
          },
        },
      },
    });
    mcp = await connectMcp(hub.url, hub.token, { era: 'auto' });
  });
  afterAll(async () => {
    await mcp?.close();
    await hub?.stop();
    api?.closeAllConnections();
    await new Promise<void>((r) => api.close(() => r()));
  });

  it('fills a placeholder that appears twice with the same argument, which goes nowhere else', async () => {
    seen.length = 0;
    const r = await mcp.call('acme__member', { org: 'my org', user: 'ann', page: 2 });
    expect(r.isError ?? false, JSON.stringify(r.content)).toBe(false);
    expect(seen).toEqual(['GET /v1/orgs/my%20org/members/ann?org=my%20org&page=2']);
  });

  it('refuses an object or a list for a placeholder, sending nothing', async () => {
    seen.length = 0;
    expect(argumentRefusal(await mcp.call('acme__anything', { id: { a: 1 } }))).toContain(
      'argument "id" fills the path /things/{id}, so it must be a string, a number or a boolean, not an object',
    );
    expect(seen).toEqual([]);
    // Nor a list: an empty one would address the collection (/things/), one of objects send "[object Object]".
    for (const id of [[], [{ a: 1 }], ['a', 'b']]) {
      expect(argumentRefusal(await mcp.call('acme__anything', { id }))).toContain(
        'argument "id" fills the path /things/{id}, so it must be a string, a number or a boolean, not a list',
      );
    }
    expect(seen).toEqual([]);
    // A scalar of any type still fills it.
    const r = await mcp.call('acme__anything', { id: 42 });
    expect(r.isError ?? false).toBe(false);
    expect(seen).toEqual(['GET /v1/things/42']);
  });
});
