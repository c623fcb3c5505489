import { z } from 'zod';

/** What the sandbox's tools answer with, as the end-to-end tests read it. */
export const ticket = z.object({ id: z.string(), title: z.string(), body: z.string(), priority: z.string(), status: z.string() });
export const ticketPage = z.object({ tickets: z.array(ticket), next_cursor: z.string().nullable() });
export const me = z.object({ username: z.string(), scopes: z.array(z.string()) });

/** `sandbox__recent_events`: the event envelopes of ticket changes, and the cursor to read on from. */
export const recentEvents = z.object({
  events: z.array(z.object({ integration: z.string(), type: z.string(), payload: z.object({ data: z.object({ ticket: z.object({ id: z.string() }) }) }) })),
  next_cursor: z.string(),
});
