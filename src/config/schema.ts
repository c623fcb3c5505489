import { isIP } from 'node:net';
import { z } from 'zod';

/** RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
import { redisConfigSchema } from '../store/redis/client.js';
import { agentConfigSchema, checkAgents } from '../definition/agents.js';
import { apiLimitsSchema } from '../definition/api-limits.js';
import { apiValuesRule } from '../definition/account.js';
import { apiBaseUrlSchema } from '../definition/api-base.js';
import { integrationBlocks } from '../definition/blocks.js';
import { agentNameSchema, integrationToolNameSchema, sourceNameSchema as sourceName } from '../definition/names.js';
import { oneAuthMode, staticAuthConfigSchema } from '../definition/auth.js';
import { oauthSchema } from '../definition/oauth.js';
import { templateToolSchema } from '../definition/tools.js';
import { webhookSettingsSchema, webhooksSchema } from '../definition/webhooks.js';
import { misplacedPlaceholders } from './identity-placeholders.js';
import { type httpServerSchema, mcpServerSchema, type stdioServerSchema } from './server-schema.js';

/** An identity provider reached over TLS, or on this machine (127.0.0.0/8, ::1, localhost). */
function isSecureIssuer(url: string): boolean {
  if (!URL.canParse(url)) return true; // z.url() has said why already
  const u = new URL(url);
  if (u.protocol === 'https:') return true;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return u.protocol === 'http:' && (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host));
}

/**
 * A built-in integration (integrations/<name>): only the app credentials and choices are
 * configured. `webhookSecrets` is the deprecated spelling of `webhooks.secrets`, mapped into it
 * (load.ts warns once); giving both is an error rather than a silent choice of one.
 */
export const builtinIntegrationSchema = z
  .strictObject({
    type: z.literal('builtin').optional(),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().optional(),
    scopes: z.array(z.string()).optional(),
    webhooks: webhookSettingsSchema.optional(),
    webhookSecrets: webhookSettingsSchema.shape.secrets,
    /** Timeout, response cap and retries of calls to this API. */
    api: apiLimitsSchema.optional(),
    disabled: z.boolean().default(false),
  })
  .superRefine((b, ctx) => {
    if (b.webhookSecrets !== undefined && b.webhooks?.secrets !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['webhookSecrets'], message: 'give webhooks.secrets only (webhookSecrets is its deprecated spelling)' });
    }
  })
  .transform(({ webhookSecrets, ...b }) => (webhookSecrets === undefined ? b : { ...b, webhooks: { ...b.webhooks, secrets: webhookSecrets } }));

/**
 * A base URL others are built on: http or https, with no credentials, query or fragment, which
 * would end up inside every URL made from it (or, for a query, be dropped from each).
 */
function baseUrlSchema(builtOn: string) {
  return z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).refine(
    (u) => {
      // Checks go on after a failed one: what is not a URL at all was said above.
      if (!URL.canParse(u)) return true;
      const url = new URL(u);
      return url.search === '' && url.hash === '' && url.username === '' && url.password === '';
    },
    { message: `must have no query, fragment or credentials: ${builtOn}` },
  );
}

/** The hub's own URL (`<url>/mcp`, the OAuth issuer, link and webhook URLs are built on it). */
const baseUrl = baseUrlSchema('other URLs are built on it');

/** An API declared in config alone: OAuth endpoints, a base URL and tools as HTTP request templates. */
export const customIntegrationSchema = z
  .strictObject({
    type: z.literal('custom'),
    title: z.string().optional(),
    description: z.string().optional(),
    oauth: oauthSchema.extend({ clientId: z.string().min(1), clientSecret: z.string() }).optional(),
    /** Instead of `oauth`: one API key for every user (or none), sent as this says. */
    auth: staticAuthConfigSchema.optional(),
    // A tool's path is resolved under it: a query here would be lost (a path may carry its own),
    // credentials sent nowhere, another scheme never reached.
    apiBaseUrl: apiBaseUrlSchema(baseUrlSchema("each tool's URL is its path under it (a tool's path may carry a query)")),
    /** Timeout, response cap and retries of calls to this API. */
    api: apiLimitsSchema.optional(),
    // The same block schemas as a built-in definition's (src/definition/), secrets included here.
    webhooks: webhooksSchema.optional(),
    ...integrationBlocks,
    tools: z.record(integrationToolNameSchema, templateToolSchema),
    disabled: z.boolean().default(false),
  })
  .superRefine(oneAuthMode)
  .superRefine(apiValuesRule);

export const integrationConfigSchema = z.discriminatedUnion('type', [customIntegrationSchema, builtinIntegrationSchema]);
export type IntegrationConfig = z.infer<typeof integrationConfigSchema>;
export type CustomIntegrationConfig = z.infer<typeof customIntegrationSchema>;

/**
 * A browser origin as the Origin header sends it: scheme, host and port only. A browser extension's
 * pages send their own scheme and id (`chrome-extension://<id>`, `moz-extension://<uuid>`), whose
 * URL origin is "null" (not a special scheme): those are taken as scheme and host alone.
 */
const origin = z.string().refine((o) => URL.canParse(o) && originOf(new URL(o)) === o.replace(/\/$/, ''), {
  message: 'must be an origin such as https://app.example.com or chrome-extension://<id> (scheme, host and port, nothing else)',
});

function originOf(url: URL): string {
  if (url.origin !== 'null') return url.origin;
  const bare =
    url.host !== '' && (url.pathname === '' || url.pathname === '/') && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  return bare ? `${url.protocol}//${url.host}` : 'null';
}

/**
 * A Host header value as a proxy sends it: a name or address, and the port when not the scheme's
 * default. Compared as written (lower-cased), so a URL (`https://hub.example.com`) or a bare IPv6
 * address, which no Host header holds, would be accepted and never match: refused, saying what to write.
 */
const hostHeader = z.string().refine((h) => /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/.test(h), {
  message:
    'must be a Host header value: a host name or address and, when clients send one, its port (hub.example.com, hub.example.com:8443, [::1]:8787), not a URL',
});

export const serverSchema = z.strictObject({
  // An address or a host name to listen on; checked here so a typo is named as this key, not as DNS's ENOTFOUND.
  host: z
    .string()
    .min(1)
    .refine(
      // All digits and dots is an IPv4 address or nothing (999.1.1.1 is no host name).
      (h) => isIP(h) !== 0 || (!/^[\d.]+$/.test(h) && HOST_NAME.test(h)),
      {
        message: 'must be an IP address or a host name (127.0.0.1, 0.0.0.0, ::, localhost)',
      },
    )
    .default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8787),
  /** The URL clients reach the hub at; defaults to http://host:port. */
  publicUrl: baseUrl.optional(),
  /**
   * The base URL other replicas reach this one's `/mcp` at, to send it a retry whose state it
   * holds (src/replicas/). Defaults to the bound listener's own address, which suits replicas on
   * one host; replicas on several hosts must set it to an address the others can reach.
   */
  internalUrl: baseUrl.optional(),
  /** Extra browser origins allowed to call /mcp (the hub's own origin always is). */
  allowedOrigins: z.array(origin).default([]),
  /** Extra Host header values accepted (the bind address and publicUrl's host always are). */
  allowedHosts: z.array(hostHeader).default([]),
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /**
   * SEP-1699 polling: a tools/call still running after this many milliseconds has its caller's POST
   * stream closed, once, and the client comes back for the rest with `Last-Event-ID` on a GET
   * (2025 sessions of 2025-11-25 clients and later; 2026-07-28 has no such streams). 0 (the
   * default): a call's stream stays open until its answer.
   */
  pollCallStreamsMs: z.number().int().min(0).max(3_600_000).default(0),
  /**
   * Per identity (tenant/user), so one token holder cannot use up what the hub holds for everyone.
   * Streams are 2026 `subscriptions/listen` and 2025 standalone GET streams. The upper bounds keep
   * each below the hub-wide caps (10,000 sessions, 10,000 listen streams).
   */
  limits: z
    .strictObject({
      sessionsPerIdentity: z.number().int().positive().max(5_000).default(100),
      streamsPerIdentity: z.number().int().positive().max(5_000).default(100),
      /** POST /mcp requests being answered at once (calls, lists): one identity's flood cannot take every connection (maxConnections). */
      requestsPerIdentity: z.number().int().positive().max(5_000).default(100),
      /** A request's headers must arrive within this (Node's headersTimeout). */
      headersTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
      /** A request's body must arrive within this of its headers, else 408 and the connection closes. */
      bodyTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
      /** Open connections at most; more are closed on arrival. Keep it under `ulimit -n`. */
      maxConnections: z.number().int().positive().max(1_000_000).default(512),
    })
    .default({
      sessionsPerIdentity: 100,
      streamsPerIdentity: 100,
      requestsPerIdentity: 100,
      headersTimeoutMs: 30_000,
      bodyTimeoutMs: 30_000,
      maxConnections: 512,
    }),
});

/**
 * The `auth` block of the config: how the hub's own authorization server lets clients in and
 * users sign in. Absent, clients register by DCR or by a metadata document on a public address,
 * and users sign in with a hub token or an invite link.
 */
export const authConfigSchema = z.strictObject({
  /** Client ID Metadata Documents (an HTTPS URL as `client_id`, fetched by the hub). */
  cimd: z
    .strictObject({
      /**
       * Fetch documents from loopback addresses (127.0.0.0/8, ::1): for developing a client on the
       * hub's machine. Private and link-local ranges stay refused either way.
       */
      allowLoopback: z.boolean().default(false),
    })
    .default({ allowLoopback: false }),
  /** Single sign-on: users sign in with the company's OpenID Connect provider instead of a hub credential. */
  oidc: z
    .strictObject({
      issuer: z.url().refine(isSecureIssuer, {
        message:
          'must be an https URL (http only on a loopback address, for development): the ID token is trusted because it comes over TLS from this issuer (OpenID Connect Core §3.1.3.7), and the client secret goes there',
      }),
      clientId: z.string().min(1),
      clientSecret: z.string().min(1),
      /** Which claim names the hub user: the subject, or the (verified) email address. */
      userFrom: z.enum(['sub', 'email']).default('sub'),
      /** The hub tenant of users signed in this way. */
      tenant: z
        .string()
        .regex(/^[A-Za-z0-9._@-]{1,128}$/)
        .default('default'),
    })
    .optional(),
});

const PG_URL = 'expected a postgres:// or postgresql:// URL';
const PG_EXAMPLE = 'postgres://user:password@host:5432/db';
const PG_SOCKET_HOST = 'a Unix socket directory percent-encoded as the host (postgres://user:password@%2Frun%2Fpostgresql/db)';
const PG_SOCKET = `a Unix socket directory goes in ?host=/run/postgresql, or is ${PG_SOCKET_HOST}`;
const PG_ENCODE = `a user name or password holding #, /, ?, @, : or % must be percent-encoded (# as %23, / as %2F, ? as %3F, @ as %40, : as %3A, % as %25)`;

/**
 * What is wrong with a PostgreSQL connection URL, if anything. libpq's URL form (both schemes)
 * takes the host from the authority or from a `host` query parameter (libpq docs, 34.1.1:
 * `postgresql:///db?host=/var/lib/postgresql`), as node-postgres does. An unencoded #, / or ?
 * in the password ends the authority early: the URL then fails to parse or names a host that is
 * part of the password, so both get the same advice. No message repeats the value: it holds the
 * password, and config errors are printed and logged.
 */
function pgUrlProblem(v: string): string | undefined {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    if (!/^postgres(?:ql)?:\/\//i.test(v)) return `${PG_URL} (${PG_EXAMPLE})`;
    // `user:password@/db?host=…` (the Cloud SQL proxy's examples): the WHATWG parser wants a host after user info.
    if (/^postgres(?:ql)?:\/\/[^/?#]*@\//i.test(v)) return `${PG_URL} with a host after the user info: ${PG_SOCKET_HOST}`;
    return `${PG_URL}, and this does not parse as one: ${PG_ENCODE}`;
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') return `${PG_URL} (${PG_EXAMPLE})`;
  // libpq's URLs have no fragment, and an @ in the path is a password's, cut short.
  if (u.hash !== '' || u.pathname.includes('@')) return `${PG_URL}, and this one parses as another host than meant: ${PG_ENCODE}`;
  if (u.hostname === '' && !u.searchParams.get('host')) return `${PG_URL} with a host (${PG_EXAMPLE}); ${PG_SOCKET}`;
  return undefined;
}

/** A PostgreSQL connection URL, in libpq's URL form (checked by `pgUrlProblem`). */
export const pgUrlSchema = z.string().superRefine((v, ctx) => {
  const problem = pgUrlProblem(v);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    server: serverSchema.default(serverSchema.parse({})),
    dataDir: z.string().min(1).default('./data'),
    /**
     * Where the hub keeps its state. Absent (and no DATABASE_URL): SQLite in the data dir. A URL:
     * PostgreSQL, which several replicas share (the data dir still holds each one's master key and
     * process registry).
     */
    store: z.strictObject({ url: pgUrlSchema.optional() }).default({}),
    /**
     * Shared state of several replicas (issue 13): rate-limit buckets, circuit breakers, and the
     * events telling each replica's clients what changed on another. Absent: all of it stays in
     * this process, as for a single hub.
     */
    redis: redisConfigSchema.optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /**
     * Largest JSON-RPC message in bytes: a stdin line of the stdio face, a stdout line of a stdio
     * downstream, a result sent to a client. Capped well below V8's ~512 MiB string limit, since a
     * message is held as one string while it is parsed.
     */
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(32 * 1024 * 1024),
    mcpServers: z.record(sourceName, mcpServerSchema).default({}),
    integrations: z.record(sourceName, integrationConfigSchema).default({}),
    // Each entry an agent tool `agent__<name>` (src/definition/agents.ts); checked across entries too.
    agents: z.record(agentNameSchema, agentConfigSchema).default({}).superRefine(checkAgents),
    /**
     * The inbox of inbound events: delivery ids and done events are kept `retentionDays` after
     * receipt (the dedupe window; Stripe retries a delivery for up to 3 days), and an event whose handler
     * fails `maxAttempts` times is dead until replayed. `groupCommit` (on by default) lets the
     * deliveries of one tick share a commit; off, each delivery commits alone (slower; kept to
     * measure the difference in `bench:webhooks`).
     */
    webhooks: z
      .strictObject({
        retentionDays: z.number().int().min(1).max(365).default(7),
        maxAttempts: z.number().int().min(1).max(100).default(8),
        groupCommit: z.boolean().default(true),
      })
      .default({ retentionDays: 7, maxAttempts: 8, groupCommit: true }),
    /**
     * Outbound writes: a tool call waits for its job up to `waitMs` (below clients' usual 60 s
     * request timeout), a job is dead after `maxAttempts` sends, and done or cancelled jobs are
     * kept `retentionDays` (a caller's idempotency key dedupes for that long).
     */
    outbox: z
      .strictObject({
        waitMs: z.number().int().min(0).max(600_000).default(10_000),
        maxAttempts: z.number().int().min(1).max(100).default(8),
        retentionDays: z.number().int().min(1).max(365).default(7),
      })
      .default({ waitMs: 10_000, maxAttempts: 8, retentionDays: 7 }),
    /** The hub's own OAuth authorization server (src/auth/): metadata documents, SSO. */
    auth: authConfigSchema.default({ cimd: { allowLoopback: false } }),
    /** Built-in sources for testing clients against the hub; off by default. */
    fixtures: z.strictObject({ conformance: z.boolean().default(false) }).default({ conformance: false }),
  })
  .superRefine(checkSourceNames)
  .superRefine((c, ctx) => {
    for (const m of misplacedPlaceholders(c)) ctx.addIssue({ code: 'custom', path: m.path, message: m.message });
  });

/**
 * Downstream servers and integrations are tool sources in one namespace (`<source>__<tool>`), so
 * a name may be used once across both; the conformance fixture source, when on, is one of them.
 */
function checkSourceNames(c: { mcpServers: object; integrations: object; fixtures: { conformance: boolean } }, ctx: z.RefinementCtx): void {
  const seen = new Map<string, string>(c.fixtures.conformance ? [['conformance', 'fixtures.conformance']] : []);
  for (const block of ['mcpServers', 'integrations'] as const) {
    for (const name of Object.keys(c[block])) {
      const first = seen.get(name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [block, name], message: `the source name "${name}" is already used by ${first}` });
      else seen.set(name, `${block}.${name}`);
    }
  }
}

export type HubConfig = z.infer<typeof configSchema>;
export type AuthConfig = z.infer<typeof authConfigSchema>;
export type McpServerConfig = z.infer<typeof mcpServerSchema>;
export type StdioServerConfig = z.infer<typeof stdioServerSchema>;
export type HttpServerConfig = z.infer<typeof httpServerSchema>;

export function isStdioServer(c: McpServerConfig): c is StdioServerConfig {
  return 'command' in c;
}
