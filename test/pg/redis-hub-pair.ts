import { configSchema, type HubConfig } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub, type HubOptions } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { tmpDir } from '../helpers/hub.js';
import { type FreshDatabase, freshDatabase } from '../helpers/postgres.js';

export interface PairHub {
  hub: Hub;
  /** `http://127.0.0.1:PORT`. */
  base: string;
  /** `${base}/mcp`. */
  url: string;
  port: number;
}

export interface Pair {
  a: PairHub;
  b: PairHub;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Two in-process hubs as two replicas, each on its own loopback port, sharing one Redis (in the
 * config handed in), one data dir (its master key) and one store: SQLite in that dir, or with
 * `postgres` a fresh PostgreSQL database. Writes from both want PostgreSQL: two SQLite connections
 * in one process wait on each other's locks synchronously, stalling both hubs' event loop.
 * A starts first: it creates the master key and migrates; B opens what A made.
 */
export async function startPair(config: Partial<Record<keyof HubConfig, unknown>>, opts: Partial<HubOptions> & { postgres?: boolean } = {}): Promise<Pair> {
  const { postgres, ...hubOpts } = opts;
  const dir = tmpDir('switchboard-redis-hub-');
  const db: FreshDatabase | undefined = postgres ? await freshDatabase() : undefined;
  const started: Hub[] = [];
  const one = async (): Promise<PairHub> => {
    const parsed = configSchema.parse({ integrations: {}, ...config, ...(db ? { store: { url: db.url } } : {}), dataDir: dir.path, server: { port: 0 } });
    const listener = await bindHttp(parsed.server, { host: '127.0.0.1' });
    const hub = await Hub.open({ config: parsed, log: silentLogger(), ...hubOpts, listener });
    started.push(hub);
    await hub.start();
    await hub.ready();
    const l = await hub.listen();
    return { hub, base: `http://127.0.0.1:${l.port}`, url: l.url, port: l.port };
  };
  try {
    const a = await one();
    const b = await one();
    return {
      a,
      b,
      dataDir: dir.path,
      close: async () => {
        await Promise.all(started.map((h) => h.stop()));
        await db?.drop();
        dir.remove();
      },
    };
  } catch (err) {
    await Promise.all(started.map((h) => h.stop().catch(() => {})));
    await db?.drop();
    dir.remove();
    throw err;
  }
}

/** GET /readyz on loopback (details shown), as JSON. */
export async function readyz(base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
