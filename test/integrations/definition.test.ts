import { randomUUID } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sandbox } from '../../integrations/sandbox/index.js';
import { parseConfigValue } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { DEFAULT_TENANT } from '../../src/identity/identity.js';
import { defineIntegration, type IntegrationInput } from '../../src/integrations/definition.js';
import { argumentRefusal } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { startSandbox, type Harness } from '../sandbox/harness.js';
import { Browser, followLink } from './browser.js';
import { connectMcp, textOf, type McpUser } from './mcp.js';
import { rejectionOf as refusal } from '../helpers/definitions.js';

const BASE: IntegrationInput = {
  name: 'acme',
  title: 'Acme',
  oauth: { authorizeUrl: 'https://acme.example/oauth/authorize', tokenUrl: 'https://acme.example/oauth/token' },
  apiBaseUrl: 'https://api.acme.example/v1',
  tools: {},
};

const rejectionOf = (input: Record<string, unknown>): string => refusal(BASE, input);

describe('defineIntegration', () => {
  it.each([
    [{ name: 'has space' }, 'integration has space: name: use 1–48 characters from A-Z a-z 0-9 _ -'],
    [{ title: '' }, 'integration acme: title: Too small: expected string to have >=1 characters'],
    [{ oauth: { authorizeUrl: 'not a url', tokenUrl: 'https://acme.example/t' } }, 'integration acme: oauth.authorizeUrl: Invalid URL'],
    [
      { oauth: { authorizeUrl: 'https://a.example/a', tokenUrl: 'https://a.example/t', tokenAuth: 'jwt' } },
      'integration acme: oauth.tokenAuth: Invalid option: expected one of "basic"|"body"',
    ],
    [{ apiBaseUrl: '/relative' }, 'integration acme: apiBaseUrl: Invalid URL'],
    [{ webhook: {} }, 'integration acme: (root): Unrecognized key: "webhook"'],
    [{ tools: { 'bad name': { description: 'd', method: 'GET', path: '/x' } } }, 'integration acme: tools.bad name: use 1–48 characters from A-Z a-z 0-9 _ -'],
    [{ tools: { t: { description: 'd' } } }, 'integration acme: tools.t: a tool needs a handler, or "method" and "path"'],
    [{ tools: { t: { description: 'd', method: 'GET', path: 'x' } } }, 'integration acme: tools.t.path: Invalid string: must start with "/"'],
    [
      { tools: { t: { description: 'd', method: 'FETCH', path: '/x' } } },
      'integration acme: tools.t.method: Invalid option: expected one of "GET"|"POST"|"PUT"|"PATCH"|"DELETE"',
    ],
    [
      { tools: { t: { description: 'd', method: 'GET', path: '/x', input: { type: 'array' } } } },
      'integration acme: tools.t.input: a tool input schema must be of type "object"',
    ],
    [
      { tools: { t: { description: 'd', method: 'GET', path: '/x', output: { type: 'array' } } } },
      'integration acme: tools.t.output: a tool output schema must be of type "object", as MCP structured results are objects (leave "output" out for an API that answers with a list)',
    ],
    [{ tools: { t: { description: 'd', handler: 'not a function' } } }, 'integration acme: tools.t.handler: handler must be a function'],
    [{ tools: { t: { description: 'd', method: 'GET', path: '/x', timeout: 5 } } }, 'integration acme: tools.t: Unrecognized key: "timeout"'],
    [
      { tools: { t: { description: 'd', method: 'GET', path: '/items/{id}' } } },
      "integration acme: tools.t.path: {id} is not a property of the tool's input schema",
    ],
    [
      { tools: { t: { description: 'd', method: 'GET', path: '/items/{item-id}', input: { type: 'object', properties: { 'item-id': {} } } } } },
      'integration acme: tools.t.path: use {name} placeholders of A-Z a-z 0-9 _ only',
    ],
  ])('rejects %j', (input, message) => {
    expect(rejectionOf(input)).toBe(message);
  });

  it('names every problem at once', () => {
    expect(rejectionOf({ title: '', tools: { t: { description: '', method: 'GET', path: '/x' } } })).toBe(
      'integration acme: title: Too small: expected string to have >=1 characters; tools.t.description: Too small: expected string to have >=1 characters',
    );
  });

  it('fills defaults, and the built-in sandbox definition passes', () => {
    const d = defineIntegration({ ...BASE, tools: { ping: { description: 'Ping.', method: 'GET', path: '/ping' } } });
    expect(d.oauth).toEqual({ ...BASE.oauth, scopes: [], scopeSeparator: ' ', tokenAuth: 'basic', extraAuthorizeParams: {}, requireIss: false });
    expect(d.tools['ping']).toEqual({ description: 'Ping.', method: 'GET', path: '/ping', input: { type: 'object', properties: {} }, readOnly: false });
    const s = sandbox({ publicUrl: 'http://127.0.0.1:8787/' });
    expect(Object.keys(s.tools)).toEqual(['whoami', 'list_tickets', 'get_ticket', 'create_ticket', 'update_ticket', 'delete_ticket']);
    expect(s.apiBaseUrl).toBe('http://127.0.0.1:8787/sandbox/api');
    expect(s.oauth?.issuer).toBe('http://127.0.0.1:8787/sandbox');
  });

  it('applies the same template checks to tools declared in a config file, naming the config path', () => {
    const raw = {
      integrations: {
        acme: {
          type: 'custom',
          oauth: { ...BASE.oauth, clientId: 'id', clientSecret: 'secret' },
          apiBaseUrl: BASE.apiBaseUrl,
          tools: { get: { description: 'd', method: 'GET', path: '/things/{thing}' }, run: { description: 'd', handler: 'x' } },
        },
      },
    };
    expect(() => parseConfigValue(raw, 'switchboard.config.json')).toThrow(
      "switchboard.config.json: integrations.acme.tools.get.path: {thing} is not a property of the tool's input schema; unknown key integrations.acme.tools.run.handler",
    );
  });
});

/**
 * A custom integration declared in config alone, with the sandbox provider as its API: linked
 * through the browser like any provider, then every template shape is called from an MCP client.
 */
describe('a custom integration from config, against the sandbox API', () => {
  let hub: RunningHub;
  let tickets: Harness;
  let strict: Harness;
  let mcp: McpUser;
  const clients: McpUser[] = [];

  const ticketInput = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'], additionalProperties: false };
  const customTools = {
    me: { description: 'The linked account.', method: 'GET', path: '/me', readOnly: true },
    list: {
      description: 'Lists tickets.',
      method: 'GET',
      path: '/tickets',
      readOnly: true,
      input: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100 }, cursor: { type: 'string' } }, additionalProperties: false },
    },
    get: { description: 'Reads a ticket.', method: 'GET', path: '/tickets/{id}', readOnly: true, input: ticketInput },
    // The id is declared but not required, so a call can leave it out.
    peek: {
      description: 'Reads a ticket, id optional.',
      method: 'GET',
      path: '/tickets/{id}',
      input: { type: 'object', properties: { id: { type: 'string' } } },
    },
    create: {
      description: 'Creates a ticket.',
      method: 'POST',
      path: '/tickets',
      input: {
        type: 'object',
        properties: { title: { type: 'string' }, body: { type: 'string' }, priority: { type: 'string', enum: ['low', 'normal', 'high', 'urgent'] } },
        required: ['title'],
      },
    },
    update: {
      description: 'Changes a ticket.',
      method: 'PATCH',
      path: '/tickets/{id}',
      input: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' } }, required: ['id'] },
    },
    remove: { description: 'Deletes a ticket.', method: 'DELETE', path: '/tickets/{id}', destructive: true, input: ticketInput },
  };

  function custom(h: Harness, title: string, tools: Record<string, unknown>) {
    return {
      type: 'custom',
      title,
      oauth: {
        authorizeUrl: `${h.issuer}/oauth/authorize`,
        tokenUrl: `${h.issuer}/oauth/token`,
        revokeUrl: `${h.issuer}/oauth/revoke`,
        // RFC 9207: the sandbox's issuer has a path, so the default (the authorize URL's origin) would not match.
        issuer: h.issuer,
        scopes: ['read', 'write'],
        clientId: 'hub',
        clientSecret: 'hub-secret',
      },
      apiBaseUrl: `${h.issuer}/api`,
      tools,
    };
  }

  beforeAll(async () => {
    // The hub's redirect URI must be registered at the providers before the hub starts: its
    // listener is bound first, on the port the OS picks, and handed to the hub.
    const listener = await bindHttp(configSchema.parse({}).server, { port: 0 });
    const clientsOf = [{ id: 'hub', secret: 'hub-secret', redirectUris: [`http://127.0.0.1:${listener.port}/oauth/callback`], name: 'Switchboard' }];
    tickets = await startSandbox({ clients: clientsOf, rateLimit: { perSecond: 100, burst: 1000 } });
    // One request, then a bucket that the sandbox's frozen clock never refills.
    strict = await startSandbox({ clients: clientsOf, rateLimit: { perSecond: 0.01, burst: 1 } });
    hub = await startHub(
      { integrations: { tickets: custom(tickets, 'Tickets', customTools), strict: custom(strict, 'Strict', { me: customTools.me }) } },
      { listener },
    );
    const user = `custom-${randomUUID().slice(0, 8)}`;
    const { token } = await hub.hub.tokens.create({ user });
    const who = { tenant: DEFAULT_TENANT, user, scopes: [] };
    for (const name of ['tickets', 'strict']) {
      const done = await followLink(new Browser(), hub.hub.integrations.accounts.linkUrl(who, name), 'custom-user');
      expect(done.status, done.html).toBe(200);
    }
    mcp = await connectMcp(hub.url, token, { era: 'auto' });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await mcp?.close();
    await hub?.stop();
    await tickets?.close();
    await strict?.close();
  });

  const ticket = z.object({ id: z.string(), title: z.string(), body: z.string(), priority: z.string(), status: z.string() });
  const page = z.object({ tickets: z.array(ticket), next_cursor: z.string().nullable() });

  function ok<T>(schema: z.ZodType<T>, r: CallToolResult): T {
    expect(r.isError ?? false, JSON.stringify(r.content)).toBe(false);
    return schema.parse(r.structuredContent);
  }

  it('lists the config tools with their annotations, linked', async () => {
    const tools = (await mcp.tools()).filter((t) => t.name.startsWith('tickets__'));
    expect(tools.map((t) => t.name).sort()).toEqual(
      Object.keys(customTools)
        .map((n) => `tickets__${n}`)
        .sort(),
    );
    expect(tools.find((t) => t.name === 'tickets__remove')).toMatchObject({
      annotations: { destructiveHint: true },
      _meta: { 'switchboard/connection': 'active' },
    });
  });

  it('POSTs the arguments as a JSON body', async () => {
    const created = ok(ticket, await mcp.call('tickets__create', { title: 'Kettle', body: 'It whistles.', priority: 'high' }));
    expect(created).toMatchObject({ title: 'Kettle', body: 'It whistles.', priority: 'high', status: 'open' });
    expect(ok(ticket, await mcp.call('tickets__get', { id: created.id }))).toEqual(created);
  });

  it('GETs with the other arguments in the query string', async () => {
    const ids: string[] = [];
    for (const title of ['one', 'two', 'three']) ids.push(ok(ticket, await mcp.call('tickets__create', { title })).id);
    const first = ok(page, await mcp.call('tickets__list', { limit: 2 }));
    expect(first.tickets.map((t) => t.id)).toEqual([ids[2], ids[1]]);
    expect(first.next_cursor).not.toBeNull();
    const second = ok(page, await mcp.call('tickets__list', { limit: 1, cursor: first.next_cursor }));
    expect(second.tickets.map((t) => t.id)).toEqual([ids[0]]);
  });

  it('takes path arguments out of the body (PATCH) and deletes with DELETE', async () => {
    const { id } = ok(ticket, await mcp.call('tickets__create', { title: 'Door' }));
    // The sandbox refuses unknown body fields, so success means "id" went only into the path.
    expect(ok(ticket, await mcp.call('tickets__update', { id, status: 'closed' }))).toMatchObject({ id, status: 'closed' });
    const removed = await mcp.call('tickets__remove', { id });
    expect(removed).toMatchObject({ content: [{ type: 'text', text: '204 No Content' }] });
    expect(removed.isError ?? false).toBe(false);
    const gone = await mcp.call('tickets__get', { id });
    expect(gone.isError).toBe(true);
    expect(textOf(gone)).toBe(`Tickets answered 404 Not Found to GET /tickets/${id}: {"error":{"code":"not_found","message":"no ticket ${id}"}}`);
  });

  it('URL-encodes path arguments, so one argument stays one path segment', async () => {
    const id = 'a/b?c=d#e f&g';
    const r = await mcp.call('tickets__get', { id });
    expect(r.isError).toBe(true);
    // The provider saw exactly the id that was given, decoded from a single segment.
    expect(textOf(r)).toBe(
      `Tickets answered 404 Not Found to GET /tickets/a%2Fb%3Fc%3Dd%23e%20f%26g: {"error":{"code":"not_found","message":"no ticket ${id}"}}`,
    );
  });

  it('refuses dot-segment path arguments, which would address another resource', async () => {
    for (const id of ['..', '.']) {
      expect(argumentRefusal(await mcp.call('tickets__get', { id }))).toContain(`argument "id" may not be "${id}"`);
    }
  });

  it('answers a missing path argument with a tool error the model can correct', async () => {
    expect(argumentRefusal(await mcp.call('tickets__peek', {}))).toContain('missing argument "id"');
    // Present but empty: said as such (it would address the collection, not an item).
    expect(argumentRefusal(await mcp.call('tickets__peek', { id: '' }))).toContain('argument "id" may not be empty');
  });

  it('answers arguments that break the tool schema with a tool error coded invalid_arguments, before any request', async () => {
    const bad = [
      ['tickets__list', { limit: 0 }, 'limit'],
      ['tickets__list', { limit: 'ten' }, 'limit'],
      ['tickets__get', { id: 7 }, 'id'],
      ['tickets__get', {}, 'id'],
      ['tickets__get', { id: 'x', extra: true }, 'unknown argument "extra"'],
      ['tickets__create', { title: 'x', priority: 'asap' }, 'priority'],
    ] as const;
    for (const [tool, args, field] of bad) {
      const text = argumentRefusal(await mcp.call(tool, args));
      expect(text, `${tool} ${JSON.stringify(args)}`).toContain(`invalid arguments for ${tool}`);
      expect(text).toContain(field);
    }
  });

  it('turns a provider 400 into an isError result carrying the status and the provider message', async () => {
    // The tool schema allows a blank title; the provider does not.
    const r = await mcp.call('tickets__create', { title: '   ' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^Tickets answered 400 Bad Request to POST \/tickets: \{"error":\{"code":"invalid_request","message":"title: Too small/);
  });

  it('turns a 429 into an isError result with Retry-After', async () => {
    expect(ok(z.object({ username: z.string() }), await mcp.call('strict__me'))).toMatchObject({ username: 'custom-user' });
    const limited = await mcp.call('strict__me');
    expect(limited.isError).toBe(true);
    expect(textOf(limited)).toBe(
      'Strict answered 429 Too Many Requests to GET /me (retry after 100 s): {"error":{"code":"rate_limited","message":"rate limit exceeded; retry in 100 s"}}',
    );
  });

  it('answers an unlinked user with the link to this integration', async () => {
    const { token } = await hub.hub.tokens.create({ user: `nobody-${randomUUID().slice(0, 6)}` });
    const other = await connectMcp(hub.url, token, { era: 'legacy' });
    clients.push(other);
    const r = await other.call('tickets__list', {});
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(new RegExp(`Link your Tickets account to use this tool\\. .*: ${hub.url.replace('/mcp', '')}/oauth/tickets/start\\?link=`));
  });
});
