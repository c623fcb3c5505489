import type { Clock } from '../clock.js';
import type { HubConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { HubMetrics } from '../observability/metrics.js';
import type { ListCache } from '../store/list-cache.js';
import type { ProcessRegistry } from './downstream/process-registry.js';
import { DownstreamServer } from './downstream/server.js';
import { ServerDirs } from './downstream/identity-config.js';
import { DownstreamTaskBacking } from './tasks/backings/downstream.js';
import type { Vault } from '../vault/vault.js';
import { sealedTasks } from './tasks/sealed.js';
import { TaskService } from './tasks/service.js';
import type { TaskRepository } from './tasks/types.js';

/** The repositories MCP Tasks and the downstream servers use (a part of the hub's store). */
export interface McpStore {
  /** MCP Tasks' records: any process on the store answers tasks/get. */
  readonly tasks: TaskRepository;
  /** Each downstream server's last lists, served at start-up before it answers. */
  readonly listCache: ListCache;
}

/** MCP Tasks (SEP-2663) on the store, and the backing of downstream servers' own tasks, passed through behind hub task ids. */
export function buildMcpTasks(d: { store: McpStore; vault: Vault; clock: Clock; log: Logger }): { tasks: TaskService; downstream: DownstreamTaskBacking } {
  const repo = sealedTasks(d.store.tasks, d.vault);
  const tasks = new TaskService({ repo, clock: d.clock, log: d.log });
  const downstream = new DownstreamTaskBacking({ repo, clock: d.clock, log: d.log });
  tasks.use(downstream);
  return { tasks, downstream };
}

export interface DownstreamDeps {
  config: HubConfig;
  store: McpStore;
  tasks: DownstreamTaskBacking;
  clock: Clock;
  log: Logger;
  metrics: HubMetrics;
  /** The stdio servers' pids, recorded in the data dir (none for an in-memory hub). */
  processes?: ProcessRegistry | undefined;
  /** Restart backoff base for supervised servers (tests crash them often). */
  restartBaseMs?: number | undefined;
  /** How often an HTTP server's session is checked (keepalive.ts). */
  keepaliveMs?: number | undefined;
  /** The hub's data dir: `${SWITCHBOARD_USER_DIR}` folders go under it (identity-config.ts). */
  dataDir?: string;
  /** When stdio servers with a cached list start (DownstreamServerOptions.startGate). */
  startGate?: Promise<void>;
}

/** The configured downstream MCP servers (`mcpServers`), in config order, as tool sources. */
export function downstreamServers(d: DownstreamDeps): DownstreamServer[] {
  const serverDirs = new ServerDirs(d.dataDir);
  return Object.entries(d.config.mcpServers).map(
    ([name, server]) =>
      new DownstreamServer({
        name,
        listCache: d.store.listCache,
        config: server,
        clock: d.clock,
        log: d.log,
        metrics: d.metrics,
        ...(d.restartBaseMs === undefined ? {} : { restartBaseMs: d.restartBaseMs }),
        ...(d.keepaliveMs === undefined ? {} : { keepaliveMs: d.keepaliveMs }),
        maxMessageBytes: d.config.maxMessageBytes,
        ...(d.processes ? { processes: d.processes } : {}),
        tasks: d.tasks,
        serverDirs,
        ...(d.startGate ? { startGate: d.startGate } : {}),
      }),
  );
}
