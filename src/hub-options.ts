import type { Clock } from './clock.js';
import type { HubConfig } from './config/schema.js';
import type { HttpListener } from './http/listener.js';
import type { HostedProvider } from './integrations/hosted.js';
import type { IntegrationsDeps } from './integrations/wiring.js';
import type { Part } from './lifecycle.js';
import type { ToolSource } from './mcp/source.js';
import type { Logger } from './observability/logger.js';
import type { PollersDeps } from './polling/wire.js';
import type { AgentOverrides } from './agents/wire.js';
import type { HubStore } from './store/bundle.js';

/** What a hub is built from: its config, and what tests and `servers/` hand in. */
export interface HubOptions {
  config: HubConfig;
  clock?: Clock;
  log?: Logger;
  /** Overrides config.dataDir; ':memory:' keeps the store in memory (tests). */
  dataDir?: string;
  /** Extra sources (tests, fixtures) added after the configured ones. */
  extraSources?: ToolSource[];
  /** Environment for the master key and, in `Hub.open`, DATABASE_URL (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Token refresh tuning (tests shorten leases and polls). */
  tokenOptions?: IntegrationsDeps['tokenOptions'];
  /** The provider client's fetch, clock, sleep, pacer and default limits. */
  provider?: IntegrationsDeps['provider'];
  /** Restart backoff base for supervised servers (tests crash them often). */
  restartBaseMs?: number;
  /** How often a downstream HTTP server's session is checked (30 s; tests restart servers). */
  keepaliveMs?: number;
  /** Providers this hub serves on its own listener (the demo sandbox), handed in by servers/. */
  hosted?: readonly HostedProvider[];
  /** Background workers (inbox, pollers, outbox): started after the sources, before the faces, stopped in reverse. */
  workers?: readonly Part[];
  /** Poll scheduler tuning (tests hand in a timer they fire and a fixed jitter). */
  polling?: PollersDeps['tuning'];
  /**
   * The HTTP listener, already bound (`bindHttp`); `listen()` serves on it and `stop()` closes it.
   * With `server.port` 0 the OS picks the port when it binds: binding before the hub is built lets
   * what is built with the hub name that port (the definition of a provider it hosts, whose
   * endpoints are on the hub's own URL). Without it, the URL is known once `listen()` has bound.
   */
  listener?: HttpListener;
  /** The integrations' circuit breakers' threshold and cool-down (tests shorten it). */
  breakers?: IntegrationsDeps['breakers'];
  /** The agents' breakers, waits between attempts and Retry-After cap (tests shorten them). */
  agents?: AgentOverrides;
  /**
   * How often this hub looks in the store for what other processes changed: connections (default
   * 2 s) and token revocations (1 s). With Redis they are the fallback; tests lengthen them to show
   * what Redis carries.
   */
  storePolls?: { connectionsMs?: number; revocationsMs?: number };
  /** Extra trusted CA certificates (PEM) for clients' metadata documents: a test's own HTTPS server. */
  cimdCa?: string;
  /**
   * The store, opened and migrated, built with this hub's vault (`hubVault`, src/vault/open.ts): how a hub runs on an
   * engine whose opening is asynchronous. The hub closes it when it stops. Without it, `Hub.open`
   * opens the store the config names (PostgreSQL for `store.url` or DATABASE_URL) and the
   * constructor opens SQLite in the data dir (`switchboard.db`), or in memory.
   */
  store?: HubStore;
}

export interface Listening {
  url: string;
  port: number;
  host: string;
}
