import type { Redis } from 'ioredis';
import { z } from 'zod';
import { HubError } from '../../errors.js';
import { lazyRequire } from '../../lazy-require.js';
import type { Logger } from '../../observability/logger.js';

/**
 * The `redis` block of the config: where the shared state of several replicas lives. Every key
 * and channel the hub uses starts with `keyPrefix`, so hubs (or test runs) can share one server.
 */
export const redisConfigSchema = z.strictObject({
  url: z.string().superRefine((v, ctx) => {
    const problem = redisUrlProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }),
  keyPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _ . : - only')
    .default('switchboard:'),
});

const REDIS_ENCODE = 'percent-encode %, #, /, ? and @ in the user name and password (% as %25, # as %23)';

/**
 * Why a `redis.url` cannot be used as meant, or undefined. ioredis decodes the user info with
 * `decodeURIComponent` (a stray `%` stopped start-up with a bare "URI malformed"), selects the
 * path as a database number (a non-number or a database the server lacks fails and ioredis goes
 * on in database 0, sharing it unasked), and a `#` in a password given as a query parameter cuts
 * it short, leaving the rest of it in the URL the hub shows.
 */
function redisUrlProblem(v: string): string | undefined {
  if (!URL.canParse(v))
    return /^rediss?:\/\//i.test(v)
      ? `expected a redis:// or rediss:// URL, and this does not parse as one: ${REDIS_ENCODE}`
      : 'expected a redis:// or rediss:// URL';
  const u = new URL(v);
  if (!['redis:', 'rediss:'].includes(u.protocol)) return 'expected a redis:// or rediss:// URL';
  if (u.hash !== '') return `expected a redis:// or rediss:// URL without a #: ${REDIS_ENCODE}`;
  try {
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
  } catch {
    return `expected a redis:// or rediss:// URL whose user name and password decode: ${REDIS_ENCODE}`;
  }
  if (!/^\/?(?:\d{1,5})?$/.test(u.pathname)) return 'expected a redis:// or rediss:// URL whose path, if any, is a database number (redis://host:6379/0)';
  return undefined;
}

export type RedisConfig = z.input<typeof redisConfigSchema>;

/** Why a connection attempt failed, in one word; `refused` when the server answered and refused it. */
export interface ConnectFailure {
  word: string;
  refused: boolean;
}

// Loaded when a client is made: the config schema imports this file, and a hub without Redis
// (every stdio hub) must not pay for loading ioredis at start.
const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

/** A connected client and the namespace every key and channel of this hub lives in. */
export interface RedisHandle {
  readonly redis: Redis;
  readonly prefix: string;
  /** The URL with its password masked: the only form of it that may be logged or shown. */
  readonly where: string;
  /** `prefix + parts.join(':')`. */
  key(...parts: string[]): string;
  /** A second connection to the same server (a subscriber cannot send commands). */
  duplicate(): Redis;
  /** Turns any failure of a Redis call into `store_failed`, with the password scrubbed from it. */
  failure(err: unknown, doing: string): HubError;
  /**
   * The server's refusal of the database `redis.url` names (SELECT: a number past its `databases`,
   * or a cluster), while it lasts: ioredis then goes on in database 0, shared with whoever uses it.
   * A function, not a value: the handle is copied with a scoped `key` (hub-redis.ts).
   */
  databaseRefusal(): string | undefined;
  /**
   * Why the main connection's last attempt failed, while it is not ready: the server's error word
   * when it answered and refused (WRONGPASS, NOAUTH), else the system's code (ECONNREFUSED). A
   * word only: a message may name the host, and /readyz shows this.
   */
  connectFailure(): ConnectFailure | undefined;
  close(): Promise<void>;
}

/**
 * Query parameters ioredis reads as connection options that hold a secret: it copies every query
 * parameter into its options, so `redis://host:6379?password=…` authenticates as the userinfo
 * form does, and must be masked and scrubbed the same way.
 */
const SECRET_PARAMS = new Set(['password', 'sentinelpassword']);

const isSecretParam = (name: string) => SECRET_PARAMS.has(name.toLowerCase());

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `redis://user:secret@host` → `redis://user:***@host`; `?password=secret` → `?password=***`. */
export function maskRedisUrl(url: string): string {
  if (!URL.canParse(url)) return '(an unparseable Redis URL)';
  const u = new URL(url);
  if (u.password) u.password = '***';
  for (const name of [...u.searchParams.keys()]) if (isSecretParam(name)) u.searchParams.set(name, '***');
  return u.toString();
}

/** The URL's secrets as a message may quote them: as written in the URL and decoded. */
function secretsOf(url: string): string[] {
  if (!URL.canParse(url)) return [];
  const u = new URL(url);
  const found = [u.password, safeDecode(u.password)];
  for (const [name, value] of u.searchParams) if (isSecretParam(name)) found.push(value, encodeURIComponent(value));
  // Longest first, so a secret that contains another is replaced whole.
  return [...new Set(found.filter((s) => s !== ''))].sort((a, b) => b.length - a.length);
}

/**
 * Removes the password (raw and URL-encoded, from the userinfo or a query parameter) from a
 * message. ioredis does not put it in its own errors, but a server's reply or a wrapped socket
 * error can echo what it was sent.
 */
export function scrubPassword(text: string, url: string): string {
  let out = text;
  for (const s of secretsOf(url)) out = out.split(s).join('***');
  return out;
}

export interface RedisClientOptions {
  log?: Logger;
  /** Shown by `CLIENT LIST` on the server, e.g. the replica's id. */
  name?: string;
}

/**
 * One ioredis client for the hub's shared state. Commands wait through a short reconnect
 * (`maxRetriesPerRequest: 3`) and then fail: a pacer or breaker whose Redis is gone must fail
 * the request (`store_failed`, retryable) rather than hold it for ever.
 */
export function createRedisClient(config: RedisConfig, opts: RedisClientOptions = {}): RedisHandle {
  const cfg = redisConfigSchema.parse(config);
  const where = maskRedisUrl(cfg.url);
  const scrub = (m: string) => scrubPassword(m, cfg.url);
  // Why the main connection last failed: ioredis gives up on a command with "Reached the max
  // retries per request limit … Refer to "maxRetriesPerRequest" option", an option the hub does not
  // expose, so the error names what the connection met instead (ECONNREFUSED, WRONGPASS, …).
  let lastConnectError: string | undefined;
  let lastConnectFailure: ConnectFailure | undefined;
  // The database the URL names, if any but 0: ioredis SELECTs it on each connect, and goes on in
  // database 0 when the server refuses (an error event after 'ready', not a failed connection).
  const database = Number(new URL(cfg.url).pathname.slice(1) || '0');
  let databaseRefused: string | undefined;
  const make = (role: string) => {
    const r = new (ioredis().Redis)(cfg.url, {
      maxRetriesPerRequest: 3,
      connectionName: opts.name ? `${opts.name}:${role}` : role,
      // Reconnect backoff capped at 2 s: a replica must notice a restarted Redis quickly.
      retryStrategy: (times) => Math.min(times * 100, 2_000),
    });
    let down = false;
    // Without a listener ioredis prints every reconnect failure to stderr, unscrubbed.
    r.on('error', (err: Error) => {
      if (database !== 0 && err.name === 'ReplyError' && /\b(DB index|SELECT)\b/i.test(err.message)) {
        // Told by the main connection, once per connect: the others SELECT the same database.
        if (role !== 'main' || databaseRefused !== undefined) return;
        databaseRefused = scrub(err.message);
        opts.log?.error(
          { redis: where, refused: databaseRefused },
          `Redis refused database ${database} (redis.url); the hub is in database 0 instead, shared with whoever uses it`,
        );
        return;
      }
      if (role === 'main') {
        lastConnectError = scrub(err.message);
        const word = errorWord(err);
        lastConnectFailure = word === undefined ? undefined : { word, refused: err.name === 'ReplyError' };
      }
      if (down) return;
      down = true;
      opts.log?.warn({ redis: where, role, error: scrub(err.message) }, 'Redis connection failed; reconnecting');
    });
    // Each connection SELECTs again after 'connect' (and before 'ready'): a refusal is told anew.
    r.on('connect', () => {
      if (role === 'main') databaseRefused = undefined;
    });
    r.on('ready', () => {
      if (role === 'main') {
        lastConnectError = undefined;
        lastConnectFailure = undefined;
      }
      if (down) opts.log?.info({ redis: where, role }, 'Redis connection restored');
      down = false;
    });
    return r;
  };
  const redis = make('main');
  const extra: Redis[] = [];
  return {
    redis,
    prefix: cfg.keyPrefix,
    where,
    databaseRefusal: () => (databaseRefused === undefined ? undefined : `database ${database}: ${databaseRefused}`),
    connectFailure: () => (redis.status === 'ready' ? undefined : lastConnectFailure),
    key: (...parts) => cfg.keyPrefix + parts.join(':'),
    duplicate() {
      const r = make(`sub${extra.length + 1}`);
      extra.push(r);
      return r;
    },
    failure(err, doing) {
      const gaveUp = err instanceof Error && err.name === 'MaxRetriesPerRequestError';
      const msg = gaveUp
        ? `Redis is not reachable${lastConnectError === undefined ? '' : ` (${lastConnectError})`}`
        : err instanceof Error
          ? err.message
          : String(err);
      // The cause is dropped on purpose: it may carry the unscrubbed message. The server's error
      // word (NOPERM, WRONGPASS, …) is kept apart: /readyz may show it, never the URL.
      const reply = err instanceof Error && err.name === 'ReplyError' ? errorWord(err) : undefined;
      return new HubError(
        'store_failed',
        `Redis (${where}) failed while ${doing}: ${scrub(msg)}`,
        reply === undefined ? undefined : { details: { redisReply: reply } },
      );
    },
    async close() {
      await Promise.all([redis, ...extra].map((r) => r.quit().catch(() => r.disconnect())));
    },
  };
}

/** A server's error word (WRONGPASS, NOPERM: the first word of its reply), else a system error's code (ECONNREFUSED). */
function errorWord(err: Error): string | undefined {
  if (err.name === 'ReplyError') return /^[A-Z][A-Z_]+\b/.exec(err.message)?.[0];
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code) ? code : undefined;
}
