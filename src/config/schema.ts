import { z } from 'zod';
import { oauthSchema, templateToolSchema, toolNameSchema } from '../integrations/definition.js';

/** Names that become tool-name prefixes: the contract's character set, no double underscore. */
const sourceName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,48}$/, 'use 1–48 characters from A-Z a-z 0-9 _ -')
  .refine((s) => !s.includes('__'), 'must not contain "__" (it separates the source from the tool)');

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
  type: z.enum(['http', 'streamable-http']).optional(),
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  ...common,
});

export const mcpServerSchema = z.union([stdioServerSchema, httpServerSchema]);

/** A built-in integration (integrations/<name>): only the app credentials and choices are configured. */
export const builtinIntegrationSchema = z.strictObject({
  type: z.literal('builtin').optional(),
  clientId: z.string().min(1).optional(),
  clientSecret: z.string().optional(),
  scopes: z.array(z.string()).optional(),
  webhookSecrets: z.array(z.string()).optional(),
  disabled: z.boolean().default(false),
});

/** An API declared in config alone: OAuth endpoints, a base URL and tools as HTTP request templates. */
export const customIntegrationSchema = z.strictObject({
  type: z.literal('custom'),
  title: z.string().optional(),
  description: z.string().optional(),
  oauth: oauthSchema.extend({ clientId: z.string().min(1), clientSecret: z.string() }),
  apiBaseUrl: z.url(),
  // Pacing, webhooks and polling are read by the outbox, webhook and poller; shapes checked there.
  rateLimit: z.record(z.string(), z.unknown()).optional(),
  webhooks: z.record(z.string(), z.unknown()).optional(),
  poll: z.record(z.string(), z.unknown()).optional(),
  tools: z.record(toolNameSchema, templateToolSchema),
  disabled: z.boolean().default(false),
});

export const integrationConfigSchema = z.discriminatedUnion('type', [customIntegrationSchema, builtinIntegrationSchema]);
export type IntegrationConfig = z.infer<typeof integrationConfigSchema>;
export type CustomIntegrationConfig = z.infer<typeof customIntegrationSchema>;

export const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8787),
  /** The URL clients reach the hub at; defaults to http://host:port. */
  publicUrl: z.url().optional(),
  /** Extra browser origins allowed to call /mcp (the hub's own origin always is). */
  allowedOrigins: z.array(z.string()).default([]),
  /** Extra Host header values accepted (the bind address and publicUrl's host always are). */
  allowedHosts: z.array(z.string()).default([]),
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: z.number().int().positive().max(64 * 1024 * 1024).default(1024 * 1024),
  /**
   * Per identity (tenant/user), so one token holder cannot use up what the hub holds for everyone.
   * Streams are 2026 `subscriptions/listen` and 2025 standalone GET streams. The upper bounds keep
   * each below the hub-wide caps (10,000 sessions, 10,000 listen streams).
   */
  limits: z
    .strictObject({
      sessionsPerIdentity: z.number().int().positive().max(5_000).default(100),
      streamsPerIdentity: z.number().int().positive().max(5_000).default(100),
    })
    .default({ sessionsPerIdentity: 100, streamsPerIdentity: 100 }),
});

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  server: serverSchema.default(serverSchema.parse({})),
  dataDir: z.string().min(1).default('./data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Largest JSON-RPC message in bytes: a stdin line of the stdio face, a stdout line of a stdio
   * downstream, a result sent to a client. Capped well below V8's ~512 MiB string limit, since a
   * message is held as one string while it is parsed.
   */
  maxMessageBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(32 * 1024 * 1024),
  mcpServers: z.record(sourceName, mcpServerSchema).default({}),
  integrations: z.record(sourceName, integrationConfigSchema).default({}),
  // Agents get their full schema with the issue that builds them; until then entries are
  // accepted as objects so a config written for later versions still loads.
  agents: z.record(sourceName, z.record(z.string(), z.unknown())).default({}),
  /** Built-in sources for testing clients against the hub; off by default. */
  fixtures: z.strictObject({ conformance: z.boolean().default(false) }).default({ conformance: false }),
});

export type HubConfig = z.infer<typeof configSchema>;
export type McpServerConfig = z.infer<typeof mcpServerSchema>;
export type StdioServerConfig = z.infer<typeof stdioServerSchema>;
export type HttpServerConfig = z.infer<typeof httpServerSchema>;

export function isStdioServer(c: McpServerConfig): c is StdioServerConfig {
  return 'command' in c;
}
