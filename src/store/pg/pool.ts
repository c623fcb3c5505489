import pg from 'pg';
import { HubError } from '../../errors.js';
import { urlSecrets } from '../url-secrets.js';

/** A row as the driver returns it; repositories parse it (STYLE.md §3). */
export type Row = Record<string, unknown>;

/** What a repository runs SQL through: the pool, or one client inside `tx`. */
export interface Queryable {
  /** Every row, as the driver returns it. */
  query(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Every row, each through `parse` (a zod schema's `parse`, or a function that throws a typed error). */
  query<T>(sql: string, params: readonly unknown[], parse: (row: Row) => T): Promise<T[]>;
  /** Exactly one row, else `store_failed`. */
  one<T>(sql: string, params: readonly unknown[], parse: (row: Row) => T): Promise<T>;
  /** The row, `undefined` when there is none, `store_failed` when there are several. */
  maybeOne<T>(sql: string, params: readonly unknown[], parse: (row: Row) => T): Promise<T | undefined>;
  /** Runs a statement and returns how many rows it changed: guarded updates assert 1 (STYLE.md §12). */
  exec(sql: string, params?: readonly unknown[]): Promise<number>;
}

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

export interface PgStore extends Queryable {
  readonly pool: pg.Pool;
  /**
   * Runs `fn` in one transaction on one client: COMMIT when it resolves, ROLLBACK when it throws.
   * A serialization failure or a deadlock rolls back and runs `fn` again (up to `attempts` times
   * in all), so `fn` must do nothing outside the database it cannot repeat.
   */
  tx<R>(fn: (q: Queryable) => Promise<R>, opts?: { isolation?: Isolation; attempts?: number }): Promise<R>;
  /** `url` with its password replaced, for messages and logs. */
  readonly safeUrl: string;
  /** `text` with the URL's password replaced, for a message built outside this module. */
  scrub(text: string): string;
  close(): Promise<void>;
}

export interface PgStoreOptions {
  /** `postgres://user:password@host:port/db?…`: config `store.url`, or `DATABASE_URL`. */
  url: string;
  /** Connections in the pool; pg's default is 10. */
  max?: number;
  /**
   * An idle client's connection failed (the server restarted, a proxy cut it). pg emits this on
   * the pool, and an `error` event nobody listens to ends the process; the pool drops the client
   * either way.
   */
  onIdleError?: (err: HubError) => void;
  /** How long to wait for a connection (a new one, or a free one when all are busy); default CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** How long a query through this store may go unanswered; default QUERY_TIMEOUT_MS. */
  queryTimeoutMs?: number;
}

/**
 * A server that stops answering without refusing (hung, partitioned away, an old failover address
 * gone silent) sends no RST, so without these bounds a request waits on it for ever, while a
 * refusing server fails it at once. Connecting takes milliseconds on a live server, TLS and a
 * distant region included; 5 s is the Retry-After /mcp's `auth_unavailable` gives, so a client
 * told to come back is not kept longer than that by the connect alone.
 */
export const CONNECT_TIMEOUT_MS = 5_000;
/**
 * The store's queries are point reads and writes, batched purges (LIMIT) and short transactions:
 * none holds a row lock across a provider call (refreshes take a lease instead), so 10 s is far
 * beyond a healthy answer, even behind a checkpoint or a lock queue, and still inside a client's
 * request timeout. Migrations are not bounded: they run on a client of their own
 * (src/store/pg/migrations.ts), whose queries wait on the advisory lock for as long as another
 * replica migrates.
 */
export const QUERY_TIMEOUT_MS = 10_000;
/** TCP keep-alive on idle pooled connections, so a peer gone silent is found and the connection dropped (Node's default is off). */
const KEEPALIVE_DELAY_MS = 10_000;

/** SQLSTATEs PostgreSQL documents as "retry the transaction" (Appendix A: class 40). */
const RETRYABLE = new Set(['40001', '40P01']);
const DEFAULT_ATTEMPTS = 4;

/**
 * Epoch milliseconds are BIGINT, which pg returns as strings by default (an int8 can pass 2^53).
 * Ours never do; one that did stays a string, so a repository's number check fails loudly
 * instead of reading a rounded value.
 */
function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

const INT8_OID = 20;

/** node-postgres reads `query_timeout` on a query's config; @types/pg does not declare it. */
type TimedQuery = pg.QueryConfig & { query_timeout: number };

/**
 * `url` asking node-postgres for libpq's meaning of `sslmode`, which `store.url` promises (README
 * "PostgreSQL"): `require` encrypts without verifying the certificate, `verify-ca` checks the CA
 * but not the host name (libpq docs, 34.19.1). node-postgres 8 reads prefer, require and verify-ca
 * as verify-full instead (refusing a self-signed or private-CA server that psql reaches) and
 * prints a SECURITY WARNING about it, unless the URL carries pg-connection-string's (≥ 2.9)
 * `uselibpqcompat=true`; pg 9 is to make libpq's the default. A URL naming the parameter itself
 * keeps its own choice.
 */
export function withLibpqSslModes(url: string): string {
  if (/[?&]uselibpqcompat=/.test(url)) return url;
  return `${libpqSslMode(url)}${url.includes('?') ? '&' : '?'}uselibpqcompat=true`;
}

const LIBPQ_SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/**
 * Under `uselibpqcompat` node-postgres reads a mode it does not know as verify-full: node-postgres's
 * own `no-verify` (what many hosting guides give Node users) and a typo alike were refused with
 * "unable to verify the first certificate", the opposite of what was asked and nothing naming the
 * parameter; so was libpq's `allow`. `no-verify` is read as what it means there, libpq's `require` (encrypt, do not
 * verify); any other unknown mode stops with a message naming it, as libpq does.
 */
function libpqSslMode(url: string): string {
  if (!URL.canParse(url)) return url;
  const modes = new URL(url).searchParams.getAll('sslmode');
  for (const mode of modes) {
    if (mode !== 'no-verify' && !LIBPQ_SSL_MODES.includes(mode)) {
      throw new HubError('config_invalid', `the database URL's sslmode=${mode} is not one of libpq's: ${LIBPQ_SSL_MODES.join(', ')}`);
    }
  }
  // `allow` is libpq's "plain text first, encryption only if the server insists, never verified";
  // node-postgres cannot fall back from one to the other, so it takes libpq's first attempt.
  return url.replace(/([?&])sslmode=no-verify(?=&|#|$)/g, '$1sslmode=require').replace(/([?&])sslmode=allow(?=&|#|$)/g, '$1sslmode=disable');
}

export function openPgStore(opts: PgStoreOptions): PgStore {
  const { safeUrl, secrets } = urlSecrets(opts.url);
  const scrub = (text: string): string => secrets.reduce((t, s) => t.split(s).join('***'), text);
  const fail = (what: string, err: unknown): HubError => {
    if (err instanceof HubError) return err;
    const e = err as { message?: unknown; code?: unknown };
    const message = scrub(typeof e?.message === 'string' ? e.message : String(err));
    // The SQLSTATE lets a repository tell a unique violation (23505) from an outage.
    const sqlstate = typeof e?.code === 'string' ? e.code : undefined;
    return new HubError('store_failed', `${what}: ${message}`, {
      cause: err,
      details: sqlstate === undefined ? { database: safeUrl } : { database: safeUrl, sqlstate },
    });
  };

  // The pool's own parsers: setting them on pg.types would change every other pg user in the process.
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, parseInt8);
  const queryTimeout = opts.queryTimeoutMs ?? QUERY_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: withLibpqSslModes(opts.url),
    max: opts.max ?? 10,
    types,
    application_name: 'switchboard',
    // Bounds checking out a client too: waiting for a free one when every client is stuck on a silent server.
    connectionTimeoutMillis: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
  });
  pool.on('error', (err) => opts.onIdleError?.(fail('an idle database connection failed', err)));

  const queryable = (run: (sql: string, params: readonly unknown[]) => Promise<pg.QueryResult>): Queryable => {
    const rows = async (sql: string, params: readonly unknown[]): Promise<Row[]> => {
      try {
        return (await run(sql, params)).rows as Row[];
      } catch (err) {
        throw fail('a database query failed', err);
      }
    };
    async function query(sql: string, params?: readonly unknown[]): Promise<Row[]>;
    async function query<T>(sql: string, params: readonly unknown[], parse: (row: Row) => T): Promise<T[]>;
    async function query<T>(sql: string, params: readonly unknown[] = [], parse?: (row: Row) => T): Promise<Array<T | Row>> {
      const got = await rows(sql, params);
      return parse === undefined ? got : got.map(parse);
    }
    const maybeOne = async <T>(sql: string, params: readonly unknown[], parse: (row: Row) => T): Promise<T | undefined> => {
      const got = await rows(sql, params);
      if (got.length > 1) throw new HubError('store_failed', `a query expected to return one row returned ${got.length}`);
      return got[0] === undefined ? undefined : parse(got[0]);
    };
    return {
      query,
      maybeOne,
      async one(sql, params, parse) {
        const row = await maybeOne(sql, params, parse);
        if (row === undefined) throw new HubError('store_failed', 'a query expected to return one row returned none');
        return row;
      },
      async exec(sql, params = []) {
        try {
          return (await run(sql, params)).rowCount ?? 0;
        } catch (err) {
          throw fail('a database statement failed', err);
        }
      },
    };
  };

  // Per query, not the pool's `query_timeout`: that would also bound the migrations' advisory lock wait.
  // pool.query releases a client whose query timed out with the error, which closes it.
  const bounded = (sql: string, params: readonly unknown[]): TimedQuery => ({ text: sql, values: params as unknown[], query_timeout: queryTimeout });
  const onPool = queryable((sql, params) => pool.query(bounded(sql, params)));

  async function tx<R>(fn: (q: Queryable) => Promise<R>, o: { isolation?: Isolation; attempts?: number } = {}): Promise<R> {
    const attempts = Math.max(1, o.attempts ?? DEFAULT_ATTEMPTS);
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw fail('cannot connect to the database', err);
      }
      let broken: Error | undefined;
      // An error the server did not send (a timeout, a cut socket) leaves the connection in an
      // unknown state: a ROLLBACK would wait out a second timeout behind the first, so it is closed instead.
      const run = async (sql: string, params: readonly unknown[] = []): Promise<pg.QueryResult> => {
        try {
          return await client.query(bounded(sql, params));
        } catch (err) {
          if (!(err instanceof pg.DatabaseError)) broken ??= err as Error;
          throw err;
        }
      };
      try {
        await run(`BEGIN ISOLATION LEVEL ${(o.isolation ?? 'read committed').toUpperCase()}`);
        const result = await fn(queryable(run));
        await run('COMMIT');
        return result;
      } catch (err) {
        if (broken === undefined) {
          try {
            await run('ROLLBACK');
          } catch (rollbackErr) {
            // A connection that cannot roll back is not returned to the pool for the next caller.
            broken = rollbackErr as Error;
          }
        }
        const sqlstate = sqlstateOf(err);
        if (sqlstate !== undefined && RETRYABLE.has(sqlstate) && attempt < attempts && broken === undefined) continue;
        throw fail('a database transaction failed', err);
      } finally {
        client.release(broken);
      }
    }
  }

  return {
    ...onPool,
    pool,
    safeUrl,
    scrub,
    tx,
    async close() {
      await pool.end();
    },
  };
}

/** The SQLSTATE of a driver error, or of the driver error a HubError from this module wraps. */
export function sqlstateOf(err: unknown): string | undefined {
  if (err instanceof HubError) {
    const s = err.details?.sqlstate;
    if (typeof s === 'string') return s;
    return sqlstateOf(err.cause);
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
