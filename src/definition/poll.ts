import { z } from 'zod';
import { jsonPathSchema } from './selector.js';

/** A feed name becomes part of cursor keys and metric labels: the tool-name character set. */
export const feedNameSchema = z.string().regex(/^[A-Za-z0-9_-]{1,48}$/, 'use 1–48 characters from A-Z a-z 0-9 _ -');

/**
 * One polled feed: GET `path` with `cursorParam=<cursor>`, take the list at `itemsAt` (the body
 * itself when absent) and the next cursor at `cursorFrom`. Paths are dotted paths into the JSON
 * body (`cursorFrom`, `itemsAt`) or into one item (`idAt`, `typeFrom`).
 */
export const pollFeedSchema = z.strictObject({
  path: z.string().startsWith('/'),
  cursorParam: z.string().regex(/^[A-Za-z0-9._~-]+$/, 'use a query parameter name of A-Z a-z 0-9 . _ ~ -'),
  cursorFrom: jsonPathSchema,
  itemsAt: jsonPathSchema.optional(),
  /** The item's id: with the feed it is the dedupe key shared with webhooks. */
  idAt: jsonPathSchema,
  typeFrom: jsonPathSchema.optional(),
  // At least 10 s: providers count polls against the same budget as the tools' calls.
  intervalSeconds: z.number().int().min(10).max(86_400).default(60),
});

export const pollSchema = z.record(feedNameSchema, pollFeedSchema);

export type PollFeed = z.infer<typeof pollFeedSchema>;
export type PollConfig = z.infer<typeof pollSchema>;
