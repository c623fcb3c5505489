import { z } from 'zod';

/**
 * One `mcpServers` entry: a server the hub starts as a process (stdio) or one it reaches over
 * Streamable HTTP, with the fields both take. The rest of the config is in schema.ts.
 */

const common = {
  /** Mount the server's tools as `<server>__<tool>` (default) or under their own names. */
  prefix: z.boolean().default(true),
  /** Per-call timeout in milliseconds. */
  timeoutMs: z.number().int().positive().max(3_600_000).default(60_000),
  disabled: z.boolean().default(false),
  /**
   * How long the first tools/list may wait for this server when no list of it is cached yet, and
   * how long a call to a server that is still starting waits for it (within the call's timeout).
   */
  startupTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
};

export const stdioServerSchema = z.strictObject({
  type: z.literal('stdio').optional(),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  /**
   * `shared`: one process serves every identity (server→client requests are routed to a call only
   * when the hub can tell whose it is). `user`: a process per identity, started on its first call.
   */
  isolation: z.enum(['shared', 'user']).default('shared'),
  ...common,
});

export const httpServerSchema = z.strictObject({
  // "sse" is what configs for the 2024-11-05 HTTP+SSE transport write: said so, not only "expected http".
  type: z
    .enum(['http', 'streamable-http'], {
      error: (issue) =>
        issue.input === 'sse'
          ? '"sse" is the older HTTP+SSE transport (2024-11-05), which the hub does not speak: give the server\'s Streamable HTTP URL (often ending in /mcp) and "type": "http"'
          : undefined,
    })
    .optional(),
  // Said as what it takes: zod's own "Invalid URL" read as a typo for ws:// or ftp://, which are URLs.
  url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL (a server started as a process takes "command" instead)' }),
  headers: z.record(z.string(), z.string()).default({}),
  ...common,
});

/**
 * An entry with neither `command` nor `url` fits neither shape equally: said as what it needs,
 * where the closest shape's "command: expected string, received undefined" read as a typo.
 */
export const mcpServerSchema = z.union([stdioServerSchema, httpServerSchema], {
  error: (issue) => {
    const entry = issue.input;
    const neither = typeof entry === 'object' && entry !== null && !('command' in entry) && !('url' in entry);
    return neither ? 'needs "command" (a server the hub starts as a process) or "url" (a Streamable HTTP server)' : undefined;
  },
});
