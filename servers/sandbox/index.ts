import express, { type ErrorRequestHandler, type Router } from 'express';
import { z } from 'zod';
import type { Clock } from '../../src/clock.js';
import { createLogger } from '../../src/observability/logger.js';
import { httpAgentRoutes } from './agents-http.js';
import { koreMarketplaceRoutes } from './agents-kore.js';
import { marketplaceRoutes } from './agents.js';
import { apiRoutes } from './api.js';
import { authorizeRoutes } from './authorize.js';
import type { SandboxClient } from './client-auth.js';
import { SCOPES, type SandboxContext } from './context.js';
import { openSandboxDb } from './db.js';
import { type DeliveryStats, realSleep, type Sleep, WebhookDispatcher } from './delivery.js';
import { clientFault, type SandboxLog, unexpectedErrors } from './errors.js';
import { EventStore } from './events-store.js';
import { TokenBuckets } from './rate-limit.js';
import { revokeRoutes } from './revoke.js';
import { OAuthStore } from './store.js';
import { webhookSecretSchema } from './signature.js';
import { TicketStore } from './tickets-store.js';
import { tokenRoutes } from './token.js';
import { adminRoutes } from './webhooks.js';
import { type DeliveryTarget, WebhookStore } from './webhooks-store.js';

export type { SandboxClient } from './client-auth.js';
export type { DeliveryStats, Sleep } from './delivery.js';
export type { SandboxLog } from './errors.js';
export type { EventType, SandboxEvent } from './events-store.js';
export type { RateLimitOptions } from './rate-limit.js';

const optionsSchema = z.object({
  // RFC 8414 §2: the issuer is a URL without query or fragment.
  issuer: z
    .url({ protocol: /^https?$/ })
    .refine((u) => !u.includes('?') && !u.includes('#'), 'the issuer has no query or fragment')
    .transform((u) => u.replace(/\/+$/, '')),
  clients: z
    .array(z.object({ id: z.string().min(1), secret: z.string().min(1), redirectUris: z.array(z.url()).min(1), name: z.string().min(1).optional() }))
    .min(1),
  dbFile: z.string().min(1),
  accessTokenTtlSeconds: z.number().int().positive().default(3600),
  rateLimit: z.object({ perSecond: z.number().positive(), burst: z.number().int().min(1) }).default({ perSecond: 5, burst: 10 }),
  omitRefreshTokenOnRefresh: z.boolean().default(false),
  omitExpiresIn: z.boolean().default(false),
  /** An app-level endpoint that receives the events of every account. */
  webhooks: z.object({ url: z.url({ protocol: /^https?$/ }), secret: webhookSecretSchema }).optional(),
  /** Share of webhook deliveries silently not sent, to show what polling recovers. */
  drop: z.number().min(0).max(1).default(0),
  /** Seeds the drop draws; without it they differ on every run. */
  dropSeed: z.number().int().min(0).max(0xffffffff).optional(),
  /** Waits between a delivery's attempts; two waits are three attempts. */
  webhookRetryDelaysMs: z.array(z.number().int().min(0).max(3_600_000)).max(10).default([1_000, 5_000]),
  webhookTimeoutMs: z.number().int().positive().default(10_000),
});

export type SandboxOptions = z.input<typeof optionsSchema> & {
  clock: Clock;
  /** Waits between delivery attempts; tests pass one that moves their manual clock instead. */
  sleep?: Sleep;
  /** Sends the deliveries; node's fetch by default. */
  fetch?: typeof fetch;
  /** Where unexpected errors are reported; a JSON logger on stderr (the hub's format) by default. */
  log?: SandboxLog;
};

/** RFC 8414 §2 authorization server metadata. */
export interface AuthorizationServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint: string;
  scopes_supported: string[];
  response_types_supported: string[];
  response_modes_supported: string[];
  grant_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  revocation_endpoint_auth_methods_supported: string[];
  code_challenge_methods_supported: string[];
  authorization_response_iss_parameter_supported: boolean;
}

export interface Sandbox {
  /** Mount at the issuer's path: `app.use(new URL(issuer).pathname, sandbox.router)`. */
  router: Router;
  metadata: AuthorizationServerMetadata;
  /**
   * RFC 8414 §3.1 puts the metadata of an issuer with a path at the host root, the path appended
   * (`/.well-known/oauth-authorization-server/sandbox`); the router serves it under the mount too,
   * and the host app may serve `metadata` here as well.
   */
  wellKnownPath: string;
  /** Resolves once no webhook delivery is queued or in flight (retries included). */
  flush(): Promise<void>;
  /** Webhook deliveries so far: delivered, failed, dropped, attempts. */
  deliveryStats(): DeliveryStats;
  close(): void;
}

/** A local OAuth 2 provider with a tickets API, for trying the hub offline and for tests. */
export function createSandbox(options: SandboxOptions): Sandbox {
  const { clock } = options;
  const opts = optionsSchema.parse(options);
  const db = openSandboxDb(opts.dbFile, clock);
  const basePath = new URL(opts.issuer).pathname.replace(/\/+$/, '');
  const events = new EventStore(db);
  const webhooks = new WebhookStore(db, clock);
  const dispatcher = new WebhookDispatcher({
    clock,
    fetch: options.fetch ?? fetch,
    sleep: options.sleep ?? realSleep,
    retryDelaysMs: opts.webhookRetryDelaysMs,
    timeoutMs: opts.webhookTimeoutMs,
    drop: opts.drop,
    seed: opts.dropSeed,
    concurrency: 4,
  });
  const app: DeliveryTarget[] = opts.webhooks ? [{ endpoint: 'app', ...opts.webhooks }] : [];
  const ctx: SandboxContext = {
    issuer: opts.issuer,
    basePath,
    clients: new Map<string, SandboxClient>(opts.clients.map((c) => [c.id, c])),
    oauth: new OAuthStore(db, clock),
    // The app endpoint first, then the account's own in the order they were registered.
    tickets: new TicketStore(db, clock, events, (e) => dispatcher.publish(e, [...app, ...webhooks.targets(e.account_id)])),
    events,
    webhooks,
    dispatcher,
    clock,
    accessTtlMs: opts.accessTokenTtlSeconds * 1000,
    omitRefreshTokenOnRefresh: opts.omitRefreshTokenOnRefresh,
    omitExpiresIn: opts.omitExpiresIn,
  };
  const metadata: AuthorizationServerMetadata = {
    issuer: opts.issuer,
    authorization_endpoint: `${opts.issuer}/oauth/authorize`,
    token_endpoint: `${opts.issuer}/oauth/token`,
    revocation_endpoint: `${opts.issuer}/oauth/revoke`,
    scopes_supported: [...SCOPES],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
  };

  const router = express.Router();
  router.get('/.well-known/oauth-authorization-server', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(metadata);
  });
  router.use(authorizeRoutes(ctx), tokenRoutes(ctx), revokeRoutes(ctx));
  router.use('/api', apiRoutes(ctx, new TokenBuckets(opts.rateLimit, clock)));
  // The agent marketplace (upagents tasks API, seed 000) beside the provider: agents the default config lists.
  // Its clock is the sandbox's: callbacks are signed, and held ones expire, by the time the hub reads.
  router.use('/marketplace/v1', marketplaceRoutes({ now: () => clock.now() }).router);
  // A Kore-compatible proxy agent (seed 003) and an agent with an API of its own (the http protocol).
  router.use('/marketplace/kore', koreMarketplaceRoutes().router);
  router.use('/marketplace/http', httpAgentRoutes().router);
  router.use(adminRoutes(ctx));
  router.use(oauthErrors);
  let log = options.log;
  router.use(unexpectedErrors(() => (log ??= createLogger().child({ component: 'sandbox' }))));

  let closed = false;
  return {
    router,
    metadata,
    wellKnownPath: `/.well-known/oauth-authorization-server${basePath}`,
    flush: () => dispatcher.flush(),
    deliveryStats: () => ({ ...dispatcher.stats }),
    close() {
      if (closed) return;
      closed = true;
      dispatcher.close();
      db.close();
    },
  };
}

/**
 * The client's faults outside the API and the marketplace (a form body in an unknown charset or a
 * broken content-encoding on the OAuth endpoints), in RFC 6749 §5.2 form: `invalid_request`, with
 * 413 or 415 where HTTP has a status for the fault. Anything else goes on to `unexpectedErrors`.
 */
const oauthErrors: ErrorRequestHandler = (err: unknown, _req, res, next) => {
  const fault = clientFault(err);
  if (!fault) return next(err);
  res.set('Cache-Control', 'no-store').status(fault.status).json({ error: 'invalid_request', error_description: fault.message });
};
