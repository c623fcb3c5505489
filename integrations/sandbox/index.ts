import { defineIntegration, type IntegrationDefinition } from '../../src/integrations/definition.js';

/**
 * The local sandbox provider (servers/sandbox), mounted by the hub at /sandbox: a ticket tracker
 * with a real OAuth authorization server, so linking and every tool can be tried offline.
 */
export function sandbox(ctx: { publicUrl: string }): IntegrationDefinition {
  const base = `${ctx.publicUrl.replace(/\/$/, '')}/sandbox`;
  return defineIntegration({
    name: 'sandbox',
    title: 'Sandbox Tickets',
    description: 'A local ticket tracker for trying Switchboard offline.',
    oauth: {
      authorizeUrl: `${base}/oauth/authorize`,
      tokenUrl: `${base}/oauth/token`,
      revokeUrl: `${base}/oauth/revoke`,
      issuer: base,
      requireIss: true,
      scopes: ['read', 'write'],
    },
    apiBaseUrl: `${base}/api`,
    // Standard Webhooks to the app-level endpoint the hub hands the sandbox; each event names its
    // account (`account_id`, the username of GET /api/me), which routes it to that user's connection.
    webhooks: { scheme: 'standard-webhooks', accountFrom: 'body:account_id', eventIdFrom: 'body:id', typeFrom: 'body:type' },
    account: { from: { request: '/me', at: 'username' } },
    // The sandbox API's default bucket per access token (servers/sandbox: 5/s, burst 10), so paced calls stay under its 429s.
    rateLimit: { perConnection: { perSecond: 5, burst: 10 } },
    // The safety net under the webhooks: every change is in the events feed, oldest first, by an
    // exclusive cursor; a change that came by webhook too is one event (the ids match).
    poll: { events: { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id', typeFrom: 'type' } },
    tools: {
      whoami: { description: 'Shows which sandbox account is linked.', method: 'GET', path: '/me', readOnly: true },
      list_tickets: {
        description: 'Lists tickets, newest first. Pass next_cursor from a previous answer as cursor for the next page.',
        method: 'GET',
        path: '/tickets',
        readOnly: true,
        input: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100 }, cursor: { type: 'string' } },
          additionalProperties: false,
        },
      },
      get_ticket: {
        description: 'Reads one ticket.',
        method: 'GET',
        path: '/tickets/{id}',
        readOnly: true,
        input: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'], additionalProperties: false },
      },
      create_ticket: {
        description: 'Creates a ticket.',
        method: 'POST',
        path: '/tickets',
        input: {
          type: 'object',
          properties: {
            title: { type: 'string', minLength: 1 },
            body: { type: 'string' },
            priority: { type: 'string', enum: ['low', 'normal', 'high', 'urgent'] },
          },
          required: ['title'],
          additionalProperties: false,
        },
      },
      update_ticket: {
        description: 'Changes a ticket: its status (open, pending, closed), title, body or priority.',
        method: 'PATCH',
        path: '/tickets/{id}',
        idempotent: true,
        // Edits of one ticket land in the order they were made; other tickets' go in parallel.
        ordering: { key: 'id' },
        input: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            status: { type: 'string', enum: ['open', 'pending', 'closed'] },
            title: { type: 'string', minLength: 1 },
            body: { type: 'string' },
            priority: { type: 'string', enum: ['low', 'normal', 'high', 'urgent'] },
          },
          required: ['id'],
          additionalProperties: false,
        },
      },
      delete_ticket: {
        description: 'Deletes a ticket for good.',
        method: 'DELETE',
        path: '/tickets/{id}',
        destructive: true,
        // The same order as update_ticket's: a delete never overtakes an edit of its ticket.
        ordering: { key: 'id' },
        input: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'], additionalProperties: false },
      },
    },
  });
}
