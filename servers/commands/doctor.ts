import { randomUUID } from 'node:crypto';
import { accessSync, constants, existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { systemClock } from '../../src/clock.js';
import type { HubConfig } from '../../src/config/schema.js';
import { describeError } from '../../src/errors.js';
import { SqliteApiTokens } from '../../src/identity/tokens.js';
import { DownstreamSource } from '../../src/mcp/downstream/source.js';
import { ServerDirs, configFor } from '../../src/mcp/downstream/identity-config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { HubMetrics } from '../../src/observability/metrics.js';
import { appliedMigrations, openDb } from '../../src/store/db.js';
import { redactedUrl, storeChoice } from '../../src/store/choice.js';
import { sqliteStoreFile } from '../../src/store/existing.js';
import type { DataKeyStore } from '../../src/vault/data-keys.js';
import { createVault } from '../../src/vault/open.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { MASTER_KEY_ENV, MASTER_KEY_FILE } from '../../src/vault/master-keys.js';
import { createRedisClient, type RedisConfig } from '../../src/store/redis/client.js';
import { publicUrlOf } from '../../src/config/public-url.js';
import { resolveIntegrations, resolveKeyedIntegrations } from '../../src/integrations/registry.js';
import { configFromFlags, parse, progress } from '../common.js';
import { hostedSandbox } from '../sandbox/hosted.js';
import { hubAt } from '../hub-at.js';
import { probeHub } from '../../src/oauth/hub-probe.js';
import { agentChecks } from './doctor-agents.js';
import { openFilesCheck } from './doctor-modes.js';
import { openConfiguredStore, openStore } from '../store-context.js';

type Check = { ok: boolean; line: string };

/**
 * The Redis the replicas share, as they use it: a PING, the database the URL names, and the events
 * channel (a Redis 7 ACL user made for the keys alone is refused it, and the replicas then never
 * hear each other). The URL is shown with its password masked.
 */
async function redisCheck(cfg: RedisConfig): Promise<Check> {
  const h = createRedisClient(cfg);
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let doing = 'answering PING';
  try {
    // A Redis that is down fails the PING after the client's few reconnects; one that hangs, here.
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within 5 s (${doing})`)), 5_000);
    });
    await Promise.race([h.redis.ping(), late]);
    const ms = Math.round(performance.now() - started);
    const refused = h.databaseRefusal();
    if (refused !== undefined) return { ok: false, line: `redis: ${h.where} refused the database the URL names (${refused})` };
    doing = `subscribing to ${h.key('events')}`;
    await Promise.race([h.duplicate().subscribe(h.key('events')), late]);
    return { ok: true, line: `redis: ${h.where} answers (PING in ${ms} ms; the events channel ${h.key('events')} may be used)` };
  } catch (err) {
    return { ok: false, line: `redis: ${h.failure(err, doing).message}` };
  } finally {
    clearTimeout(timer);
    await h.close();
  }
}

/**
 * The store the config names, as the hub would open it. PostgreSQL is opened without migrating,
 * so pending migrations are reported (the next `serve` applies them); messages name the URL with
 * its password replaced.
 */
/** The vault of a store with no master key at hand: fine while nothing is sealed, else the key is missing. */
async function keylessVaultCheck(config: HubConfig, keyFile: string): Promise<Check> {
  try {
    const store = await openConfiguredStore(config, silentLogger(), { existing: true });
    try {
      const sealed = (await store.dataKeys.all()).length;
      if (sealed === 0)
        return {
          ok: true,
          line: `vault: no master key yet (a hub makes ${keyFile} when it first starts, unless ${MASTER_KEY_ENV} is set); nothing is sealed yet`,
        };
      return { ok: false, line: `vault: ${sealed} stored data key(s) and no master key: set ${MASTER_KEY_ENV} or restore ${keyFile}` };
    } finally {
      await store.close();
    }
  } catch (err) {
    return { ok: false, line: `vault: ${describeError(err)}` };
  }
}

async function storeCheck(config: HubConfig): Promise<Check & { opened: boolean }> {
  let choice: ReturnType<typeof storeChoice>;
  try {
    choice = storeChoice(config);
  } catch (err) {
    return { ok: false, line: `store: ${describeError(err)}`, opened: false };
  }
  if (choice.kind === 'sqlite') {
    try {
      const db = openDb({ file: resolve(config.dataDir, 'switchboard.db'), clock: systemClock });
      const applied = appliedMigrations(db);
      const mode = db.pragma('journal_mode', { simple: true });
      const tokens = (await new SqliteApiTokens(db, systemClock).list()).length;
      db.close();
      const latest = MIGRATIONS.at(-1)?.version ?? 0;
      return {
        ok: applied.at(-1)?.version === latest && mode === 'wal',
        line: `database: sqlite, schema version ${applied.at(-1)?.version ?? 0}/${latest}, journal ${String(mode)}, ${tokens} active API token(s)`,
        opened: true,
      };
    } catch (err) {
      return { ok: false, line: `database: sqlite: ${describeError(err)}`, opened: false };
    }
  }
  const where = `postgres ${redactedUrl(choice.url)} (from ${choice.from})`;
  try {
    const vault = (keys: DataKeyStore) => createVault({ keys, dataDir: config.dataDir, clock: systemClock, log: silentLogger() });
    const { openPostgresStore } = await import('../../src/store/pg-bundle.js');
    const store = await openPostgresStore({ url: choice.url, clock: systemClock, log: silentLogger(), vault, migrate: false, max: 1 });
    try {
      const health = await store.health();
      if (!health.ok) return { ok: false, line: `database: ${where}: not answering: ${health.error}`, opened: false };
      const { applied, pending } = await store.migrations();
      const tokens = pending.length === 0 ? `, ${(await store.apiTokens.list()).length} active API token(s)` : '';
      return {
        ok: pending.length === 0,
        line: `database: ${where}, reachable, ${applied} migration(s) applied, ${pending.length === 0 ? 'none pending' : `pending: ${pending.join(', ')} (the next \`switchboard serve\` applies them)`}${tokens}`,
        // The vault and integration checks open the store as a command does, which migrates it:
        // a diagnosis makes nothing, so with migrations pending they are left to the next start.
        opened: pending.length === 0,
      };
    } finally {
      await store.close();
    }
  } catch (err) {
    return { ok: false, line: `database: ${where}: ${describeError(err)}`, opened: false };
  }
}

/**
 * The integrations block built as `serve` builds it, from the config alone: a built-in name that
 * does not exist or a missing client secret stops a hub at start, so doctor says so even on a
 * data dir no hub has used yet (its store checks come after, and only with a store).
 */
function integrationsCheck(config: HubConfig): Check {
  const hosted = new Map([hostedSandbox()].map((p) => [p.integration, p]));
  try {
    const linked = resolveIntegrations(config, {
      publicUrl: publicUrlOf(config.server) ?? 'http://127.0.0.1',
      clock: systemClock,
      // A hosted provider's secret is the store's: only its presence matters here.
      hostedClient: (name) => {
        const p = hosted.get(name);
        return p && { id: p.clientId, secret: () => '' };
      },
    });
    const keyed = resolveKeyedIntegrations(config);
    if (linked.length + keyed.length === 0) return { ok: true, line: 'integrations: none configured' };
    const names = [...linked.map((i) => `${i.definition.name} (linked by OAuth)`), ...keyed.map((i) => `${i.definition.name} (a key from config)`)];
    return { ok: true, line: `integrations: ${names.join(', ')}` };
  } catch (err) {
    return { ok: false, line: describeError(err) };
  }
}

/**
 * What answers at the URL a first `serve` on a data dir with no store would take. No store means
 * no link key, so a hub answering there is on another data dir: that `serve` stops at once on the
 * port in use, which a diagnosis reporting "everything looks right" hid until it was started.
 */
async function freshHttpCheck(url: string): Promise<Check> {
  const probe = await probeHub(url, '');
  if (probe.kind === 'nothing') return { ok: true, line: `http: nothing answers at ${url} yet (\`switchboard serve\` listens there)` };
  if (probe.kind === 'not-a-hub')
    return { ok: false, line: `http: something other than a Switchboard hub answers at ${url}; \`switchboard serve\` cannot listen there` };
  const other = probe.kind === 'other-keys' ? (probe.dataDir ?? 'not disclosed') : 'unknown';
  return {
    ok: false,
    line: `http: ${url} is a hub on another data dir (${other}); \`switchboard serve\` on this one cannot listen there: stop that hub, use its data dir, or pick another port`,
  };
}

/** Checks the config, the data dir, the store and every downstream server, and says what is wrong. */
/** For a server with `startupTimeoutMs: 0` (the hub never waits for it): how long doctor gives it. */
const DEFAULT_STARTUP_TIMEOUT_MS = 10_000;

const USAGE = `usage: switchboard doctor [--json] [--config FILE] [--data DIR]
       checks the config, the data dir, the store and vault, the HTTP address and every
       downstream server (each given its startupTimeoutMs); it makes and changes nothing`;

export async function doctorCommand(argv: string[]): Promise<void> {
  const { flags } = parse(argv, { json: { type: 'boolean' } }, { command: 'doctor', usage: USAGE, takes: 0 });
  if (flags['help']) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const checks: Check[] = [];
  const report = (c: Check) => {
    checks.push(c);
    progress(`${c.ok ? 'ok  ' : 'FAIL'} ${c.line}`);
  };
  let config: HubConfig;
  let dataLine: string;
  try {
    const loaded = configFromFlags(flags, { quiet: true, makeNothing: true });
    config = loaded.config;
    dataLine = loaded.data.line;
    report({ ok: true, line: `config: ${loaded.file ?? 'no config file, embedded defaults'}` });
  } catch (err) {
    report({ ok: false, line: `config: ${describeError(err)}` });
    // A script reading --json gets its answer when the config fails too.
    if (flags['json']) process.stdout.write(`${JSON.stringify({ ok: false, checks }, null, 2)}\n`);
    process.exitCode = 1;
    return;
  }
  const dataDir = config.dataDir;
  // A diagnosis makes nothing: a mistyped --data must not leave a new store and master key behind.
  const storeFile = sqliteStoreFile(config);
  const noStoreYet = storeFile !== undefined && !existsSync(storeFile);
  try {
    if (existsSync(dataDir)) {
      if (!statSync(dataDir).isDirectory()) throw new Error('it is a file, not a folder');
      accessSync(dataDir, constants.W_OK | constants.R_OK);
      report({ ok: true, line: `${dataLine}, writable` });
    } else report({ ok: true, line: `${dataLine}, not made yet (a hub makes it when it first starts)` });
  } catch (err) {
    report({ ok: false, line: `data dir: ${dataDir}: ${describeError(err)}` });
  }
  const open = openFilesCheck(dataDir);
  if (open) report(open);
  const integrations = integrationsCheck(config);
  report(integrations);
  if (noStoreYet) {
    report({ ok: true, line: `database: sqlite, no store yet at ${storeFile} (a hub makes it, and the master key, when it first starts)` });
    const url = publicUrlOf(config.server);
    if (url !== undefined) report(await freshHttpCheck(url));
  }
  // A store that did not open is one problem: the vault and integration checks below open it
  // again and failed with the same words, counted twice ("2 problem(s)" for one unreachable database).
  const stored = noStoreYet ? undefined : await storeCheck(config);
  if (stored) report({ ok: stored.ok, line: stored.line });
  const storeOpens = stored?.opened !== false;
  // Without a master key, opening the store would make one (and a data key, sealing the hosted
  // sandbox's secret): a hub later started with the intended SWITCHBOARD_MASTER_KEY then refused
  // the data dir. A diagnosis makes nothing, so the vault is judged from its stored data keys.
  const keyFile = resolve(dataDir, MASTER_KEY_FILE);
  const keyless = !noStoreYet && storeOpens && (process.env[MASTER_KEY_ENV] ?? '').trim() === '' && !existsSync(keyFile);
  if (keyless) report(await keylessVaultCheck(config, keyFile));
  // An integrations block the hub refuses fails opening the store the same way: said once, above.
  if (!noStoreYet && storeOpens && !keyless && integrations.ok) {
    try {
      // Port 0 without publicUrl: the OS picks the port as a hub listens, so no URL names it now and
      // the integrations' definitions (built on the hub's URL) would not open. They are built on a
      // stand-in port to count their tools; no URL made on it is shown, and the http check says why.
      const portZero = publicUrlOf(config.server) === undefined;
      const store = await openStore(portZero ? { ...config, server: { ...config.server, port: 1 } } : config, silentLogger());
      try {
        const source = process.env[MASTER_KEY_ENV] ? MASTER_KEY_ENV : keyFile;
        // Opening the store already unwrapped every data key (a damaged one fails it, named); this counts them.
        const dataKeys = await store.vault.verify();
        report({ ok: true, line: `vault: master key ${store.vault.activeMasterId} from ${source}; all ${dataKeys} stored data key(s) open` });
        const { accounts } = store.integrations;
        for (const i of accounts.list()) {
          const states = (await accounts.connections.list()).filter((c) => c.integration === i.definition.name).map((c) => c.state);
          const needs = states.filter((st) => st !== 'active').length;
          report({
            ok: true,
            line: `integrations.${i.definition.name}: ${Object.keys(i.definition.tools).length} tools, ${states.length} connection(s)${needs ? `, ${needs} needing attention (see \`switchboard connections list\`)` : ''}`,
          });
        }
        // Each poller of a live connection as the store has it: a stalled one is a problem to act on.
        const live = new Map((await accounts.connections.list()).filter((c) => c.state === 'active').map((c) => [c.id, c.user]));
        for (const p of await store.store.pollers.list({ connectionIds: [...live.keys()] })) {
          const seen = p.lastPollAt === null ? 'not polled yet' : `last polled ${new Date(p.lastPollAt).toISOString()}`;
          const state = p.state === 'stalled' ? `stalled: ${p.reason ?? 'no reason recorded'}` : `active, ${seen}, ${p.eventsTotal} event(s)`;
          report({ ok: p.state !== 'stalled', line: `pollers.${p.integration}.${p.feed} (${live.get(p.connectionId)}): ${state}` });
        }
        const url = portZero ? undefined : store.publicUrl;
        // Port 0: each hub listens where the OS puts it, so there is no one URL to look at.
        if (url === undefined) report({ ok: true, line: 'http: server.port is 0: a hub listens on the port the OS picks, and its links name that port' });
        else {
          // Links from this data dir are opened at the public URL: a hub there on another store rejects them.
          const { probe, url: at, movedFrom } = await hubAt(store, url);
          const http = {
            nothing: { ok: true, line: `http: nothing answers at ${url} (start \`switchboard serve\` to open links there)` },
            moved: {
              ok: true,
              line: `http: nothing answers at ${url}, which the config (or its default) names; the hub serving this data dir answers at ${at} (\`connect\` points its links there; --port ${new URL(at).port} or server.port makes every command agree)`,
            },
            'same-keys': { ok: true, line: `http: ${url} is a hub on this data dir` },
            'not-a-hub': { ok: false, line: `http: something other than a Switchboard hub answers at ${url}; links will not open there` },
            'other-keys': {
              ok: false,
              line: `http: ${url} is a hub on another data dir (${probe.kind === 'other-keys' ? (probe.dataDir ?? 'not disclosed') : ''}); it rejects links from this one (${dataDir})`,
            },
          }[movedFrom === undefined ? probe.kind : 'moved'];
          report(http);
        }
      } finally {
        store.close();
      }
    } catch (err) {
      report({ ok: false, line: `vault/integrations: ${describeError(err)}` });
    }
  }
  if (config.redis) report(await redisCheck(config.redis));
  if (Object.keys(config.agents).length > 0) progress('...  agents: connecting to their hosts');
  for (const c of await agentChecks(config.agents, publicUrlOf(config.server))) report(c);
  const names = Object.keys(config.mcpServers);
  if (names.length === 0) report({ ok: true, line: 'mcpServers: none configured' });
  const metrics = new HubMetrics();
  const stopOnSignal = stopServersOnSignal();
  // doctor makes nothing in the data dir: a server's folder (`${SWITCHBOARD_USER_DIR}`) is a temporary one, removed after.
  const scratch = join(tmpdir(), `switchboard-doctor-${randomUUID()}`);
  const serverDirs = new ServerDirs(scratch);
  await Promise.all(
    names.map(async (name) => {
      const cfg = config.mcpServers[name]!;
      if (cfg.disabled) {
        report({ ok: true, line: `mcpServers.${name}: disabled` });
        return;
      }
      const started = performance.now();
      // The hub waits this long for a server before its first tools/list goes without it.
      const timeoutMs = cfg.startupTimeoutMs > 0 ? cfg.startupTimeoutMs : DEFAULT_STARTUP_TIMEOUT_MS;
      // Started as the hub starts the process it lists a server with: its placeholders filled.
      let listed: typeof cfg;
      try {
        listed = configFor(cfg, name, undefined, serverDirs);
      } catch (err) {
        report({ ok: false, line: `mcpServers.${name}: ${describeError(err)}` });
        return;
      }
      const source = new DownstreamSource({ name, config: listed, clock: systemClock, log: silentLogger(), metrics, connectTimeoutMs: timeoutMs });
      progress(`...  mcpServers.${name}: connecting`);
      stopOnSignal.live.add(source);
      await source.start();
      const st = source.status();
      const ms = Math.round(performance.now() - started);
      await source.stop();
      stopOnSignal.live.delete(source);
      if (st.state === 'ready') {
        const ready = `mcpServers.${name}: ready in ${ms} ms, ${source.tools({ tenant: 'default', user: 'doctor', scopes: [] }).length} tools, protocol ${st.protocolVersion ?? '?'}`;
        // Ready, but later than a client's first tools/list waits: without a cached list that list goes without its tools.
        if (ms >= timeoutMs)
          report({
            ok: false,
            line: `${ready}, past its startupTimeoutMs (${timeoutMs} ms): a client's first tools/list with no cached list goes without its tools; raise startupTimeoutMs`,
          });
        else report({ ok: true, line: ready });
      } else {
        // doctor runs each server once and stops it: the supervisor's restart plan is not for it to show.
        const said = st.detail?.replace(/; restarting in \d+ ms$/, '') ?? st.state;
        const late = ms >= timeoutMs ? ` (not ready within startupTimeoutMs, ${timeoutMs} ms: a client's first tools/list would go without it)` : '';
        report({ ok: false, line: `mcpServers.${name}: ${said}${late}` });
      }
    }),
  );
  stopOnSignal.done();
  rmSync(scratch, { recursive: true, force: true });
  const failed = checks.filter((c) => !c.ok).length;
  if (flags['json']) process.stdout.write(`${JSON.stringify({ ok: failed === 0, checks }, null, 2)}\n`);
  else process.stdout.write(failed === 0 ? 'doctor: everything looks right\n' : `doctor: ${failed} problem(s) found\n`);
  if (failed > 0) process.exitCode = 1;
}

/**
 * Ctrl-C (or SIGTERM) while servers are being tried stops the ones started, then exits 130 (143):
 * a stdio server runs in a process group of its own, which the terminal's SIGINT does not reach,
 * and exiting at once left it running. A second signal exits at once.
 */
function stopServersOnSignal(): { live: Set<DownstreamSource>; done: () => void } {
  const live = new Set<DownstreamSource>();
  const stop = (signal: NodeJS.Signals) => {
    done();
    progress(`doctor: ${signal}: stopping the servers it started`);
    const force = () => process.exit(signal === 'SIGINT' ? 130 : 143);
    process.once('SIGINT', force).once('SIGTERM', force);
    void Promise.all([...live].map((s) => s.stop().catch(() => {}))).finally(force);
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  process.once('SIGINT', onInt).once('SIGTERM', onTerm);
  const done = () => {
    process.off('SIGINT', onInt).off('SIGTERM', onTerm);
  };
  return { live, done };
}
