import express, { type Router } from 'express';
import { z } from 'zod';
import { decodeCursor, encodeCursor, fail, parse } from './api-http.js';
import { authOf, requireScope } from './bearer.js';
import type { SandboxContext } from './context.js';
import { queryOf } from './oauth-http.js';

/** Epoch milliseconds, or an ISO 8601 date-time with an offset (`Z` or `+02:00`). */
const instant = z.string().transform((s, issue) => {
  const ms = /^\d{1,15}$/.test(s) ? Number(s) : z.iso.datetime({ offset: true }).safeParse(s).success ? Date.parse(s) : Number.NaN;
  if (Number.isNaN(ms)) {
    issue.addIssue({ code: 'custom', message: 'expected an ISO 8601 date-time or milliseconds since the epoch' });
    return z.NEVER;
  }
  return ms;
});

// Strict: `cursor` (the tickets list's name) or a misspelt `after` must not silently restart the feed.
const feedQuery = z
  .strictObject({
    after: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a cursor from this API')
      .optional(),
    since: instant.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
  })
  .refine((q) => q.after === undefined || q.since === undefined, { message: 'pass after or since, not both' });

/**
 * GET /api/events: the account's ticket changes, oldest first. `after` resumes from an opaque
 * cursor (by sequence number, so nothing is lost or repeated); `since` reads from a timestamp,
 * inclusive, for clients that keep their place by time. `next_cursor` is always present — on an
 * empty page it is the cursor the client came with — so a poller always has somewhere to resume.
 */
export function eventRoutes(ctx: SandboxContext): Router {
  const router = express.Router();
  router.get('/events', requireScope('read'), (req, res) => {
    const q = parse(feedQuery, Object.fromEntries(queryOf(req)), res);
    if (!q) return;
    const owner = authOf(req).username;
    const after = q.after === undefined ? 0 : decodeCursor('a', q.after);
    if (after === null) return fail(res, 400, 'invalid_request', 'after: not a cursor from this API');
    const page = q.since === undefined ? ctx.events.after(owner, after, q.limit) : ctx.events.since(owner, q.since, q.limit);
    res.json({ events: page.events, next_cursor: encodeCursor('a', page.lastSeq), has_more: page.hasMore });
  });
  return router;
}
