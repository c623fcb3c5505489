import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { decodeCursor, encodeCursor, fail, parse } from './api-http.js';
import { authOf, requireScope } from './bearer.js';
import type { SandboxContext } from './context.js';
import { queryOf } from './oauth-http.js';
import { PRIORITIES, STATUSES } from './tickets-store.js';

// Unknown fields are refused rather than dropped, so a misspelt field is an error, not a no-op.
const createBody = z.strictObject({
  title: z.string().trim().min(1).max(200),
  body: z.string().max(10_000).default(''),
  priority: z.enum(PRIORITIES).default('normal'),
});
const patchBody = z
  .strictObject({
    title: z.string().trim().min(1).max(200).optional(),
    body: z.string().max(10_000).optional(),
    priority: z.enum(PRIORITIES).optional(),
    status: z.enum(STATUSES).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'at least one of title, body, priority, status is required' });
const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a cursor from this API')
    .optional(),
});

/** The tickets routes of the API (mounted by apiRoutes, behind its bearer check). */
export function ticketRoutes(ctx: SandboxContext): Router {
  const router = express.Router();
  const read = requireScope('read');
  const write = requireScope('write');
  const owner = (req: Request): string => authOf(req).username;
  const idOf = (req: Request): string => String(req.params['id']);

  router.get('/me', read, (req, res) => {
    const account = ctx.tickets.account(owner(req));
    if (!account) return fail(res, 404, 'not_found', 'no such account');
    res.json({ ...account, scopes: authOf(req).scopes });
  });

  router.get('/tickets', read, (req, res) => {
    const q = parse(listQuery, Object.fromEntries(queryOf(req)), res);
    if (!q) return;
    const before = q.cursor === undefined ? null : decodeCursor('b', q.cursor);
    if (q.cursor !== undefined && before === null) return fail(res, 400, 'invalid_request', 'cursor: not a cursor from this API');
    const page = ctx.tickets.list(owner(req), q.limit, before);
    res.json({ tickets: page.tickets, next_cursor: page.nextBefore === null ? null : encodeCursor('b', page.nextBefore) });
  });

  router.post('/tickets', write, (req, res) => {
    const body = parse(createBody, req.body, res);
    if (!body) return;
    const ticket = ctx.tickets.create(owner(req), body);
    res.status(201).location(`${ctx.basePath}/api/tickets/${ticket.id}`).json(ticket);
  });

  router.get('/tickets/:id', read, (req, res) => {
    const ticket = ctx.tickets.get(owner(req), idOf(req));
    // Another account's ticket is "not found" too, so ids of others cannot be probed.
    if (!ticket) return fail(res, 404, 'not_found', `no ticket ${idOf(req)}`);
    res.json(ticket);
  });

  router.patch('/tickets/:id', write, (req, res) => {
    const changes = parse(patchBody, req.body, res);
    if (!changes) return;
    const ticket = ctx.tickets.update(owner(req), idOf(req), changes);
    if (!ticket) return fail(res, 404, 'not_found', `no ticket ${idOf(req)}`);
    res.json(ticket);
  });

  router.delete('/tickets/:id', write, (req, res) => {
    if (!ctx.tickets.delete(owner(req), idOf(req))) return fail(res, 404, 'not_found', `no ticket ${idOf(req)}`);
    res.status(204).end();
  });

  return router;
}
