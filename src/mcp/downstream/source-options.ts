import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import type { McpServerConfig } from '../../config/schema.js';
import type { HubMetrics } from '../../observability/metrics.js';
import type { StrayNotification } from '../source.js';
import type { DownstreamTaskBacking } from '../tasks/backings/downstream.js';
import type { ListCache } from '../../store/list-cache.js';
import type { ServerDirs } from './identity-config.js';
import type { ChildRegistry } from './process-registry.js';

/** What one connection to a downstream server is made with (source.ts). */
export interface DownstreamOptions {
  name: string;
  config: McpServerConfig;
  clock: Clock;
  log: Logger;
  metrics: HubMetrics;
  /** Time allowed for spawn + handshake + first listing. */
  connectTimeoutMs?: number;
  /** Restart backoff base, for tests that crash a server many times. */
  restartBaseMs?: number;
  /** Longest stdout line of a stdio server, in bytes (config `maxMessageBytes`). */
  maxMessageBytes?: number;
  /** Records spawned stdio servers so the next start can end them if this hub dies. */
  processes?: ChildRegistry;
  /**
   * `session`: one identity's own connection beside the server's main one; it serves calls only,
   * so it neither reports to metrics nor announces list changes.
   */
  role?: 'main' | 'session';
  /**
   * Opens with the 2025-era handshake whatever the server speaks: the session of a 2025-era
   * caller to a 2026-capable server, so the server's 2025 features (server→client requests on the
   * call's stream, stream closes to resume from) reach that caller as the server sends them.
   */
  legacy?: boolean;
  /** The server ended this connection's session: it restarted (the server's other connections are then checked at once). */
  onSessionEnded?: () => void;
  /** A call or connect on this connection found the HTTP server unreachable (the main connection then reconnects at once). */
  onUnreachable?: (detail: string) => void;
  /** A notification no call in flight owns, on a connection of one identity's own (server.ts sends it to that identity). */
  onStray?: (n: StrayNotification) => void;
  /** How often a main HTTP connection's session is checked (keepalive.ts); 30 s by default. */
  keepaliveMs?: number;
  /** Passes a task-augmented call through as the server's own task, where the server runs tools as tasks. */
  tasks?: DownstreamTaskBacking;
}

/** What a configured server (server.ts) is made with: its connections' options and its own. */
export interface DownstreamServerOptions extends DownstreamOptions {
  /** Last-known lists, so the first tools/list holds this server's tools before it has answered. */
  listCache?: ListCache;
  /** How long an identity's own connection stays open without calls. */
  sessionIdleMs?: number;
  /**
   * With a cached list, a stdio server's process starts once this settles (the hub's first answer
   * to its stdio client, or a moment after start): that answer needs only the cache, and on a
   * small machine the server's own start competed with the hub's for the CPU. A call meanwhile
   * waits for the server as it waits for any server still starting.
   */
  startGate?: Promise<void>;
  /** Where `${SWITCHBOARD_USER_DIR}` points for each identity's process (identity-config.ts). */
  serverDirs?: ServerDirs;
}
