import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hub } from '../../src/hub.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { HubError } from '../../src/errors.js';
import { publicUrlOf, urlFor } from '../../src/config/public-url.js';
import type { HubConfig } from '../../src/config/schema.js';
import { sqliteStoreFile } from '../../src/store/existing.js';
import { openStore } from '../store-context.js';
import { bindHttp } from '../../src/http/listener.js';
import { isLoopbackHost } from '../../src/http/security.js';
import { probeHub } from '../../src/oauth/hub-probe.js';
import { ownerOf, PROCESS_ID } from '../../src/mcp/downstream/held-calls.js';
import { RetryForwarder } from '../../src/replicas/forward.js';
import { runReplica } from '../../src/replicas/heartbeat.js';
import { taskHolders } from '../../src/replicas/tasks.js';
import { hostedSandbox } from '../sandbox/hosted.js';
import { configFromFlags, parse } from '../common.js';
import { replicaRegistryOf } from '../replica-registry.js';
import { onShutdown } from '../shutdown.js';

const SERVE_USAGE = 'usage: switchboard serve [--config FILE] [--data DIR] [--port N] [--host H]';

export async function serveCommand(argv: string[]): Promise<void> {
  const { flags } = parse(argv, {}, { command: 'serve', usage: SERVE_USAGE, takes: 0 });
  if (flags['help']) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return;
  }
  const { config, file } = configFromFlags(flags);
  const log = createLogger({ level: config.logLevel });
  // The port is bound before the store is opened: a port in use then stops start-up before a new
  // data dir gets a database, a master key and a first admin token nobody was shown. Until the
  // hub serves, requests get 503 (hub_starting). On port 0 the OS picks it here, so links, OAuth
  // redirects and the hosted sandbox's endpoints name the port it picked.
  const listener = await bindHttp(config.server).catch(async (err: unknown) => {
    throw await portInUse(err, config);
  });
  const hub = await Hub.open({ config, log, hosted: [hostedSandbox()], listener }).catch(async (err: unknown) => {
    // A store that cannot be opened ends start-up: the listener bound for it must not keep the process alive.
    await listener.close();
    throw err;
  });
  // Signals are taken from here on, not once the hub serves: the downstream servers start with
  // the hub, and a SIGTERM before the handler was set (a `systemctl restart`, a `docker stop` in
  // the first second) killed the hub at once, leaving them running until the next start reaped them.
  let replica: Awaited<ReturnType<typeof runReplica>> | undefined;
  onShutdown(async () => {
    // Unregistered first: a retry naming this process is answered at once from then on, not sent here.
    await replica?.stop();
    await hub.stop();
  }, log);
  // Replicas on this store find each other here: a retry whose call another one holds goes there.
  const replicas = await replicaRegistryOf(hub.store, hub.clock);
  if (replicas)
    hub.forward = new RetryForwarder({
      registry: replicas,
      self: PROCESS_ID,
      ownerOf: (state) => ownerOf(hub.dispatcher.requestStates, state),
      taskHolder: taskHolders(hub.store.tasks, hub.clock),
      log,
    });
  else log.warn({ store: hub.store.kind }, 'no replica registry for this store: retries held by another replica are not forwarded');
  let listening: Awaited<ReturnType<Hub['listen']>>;
  try {
    await hub.start();
    listening = await hub.listen();
  } catch (err) {
    // A signal during start-up is stopping the hub already, and its exit says how that went.
    if (hub.phase === 'stopping') return;
    await hub.stop();
    throw err;
  }
  if (hub.phase === 'stopping') return;
  // First start with an empty store: make an admin token and show it once, as Jupyter does. Made
  // once the hub serves, so a start that fails before cannot leave a token nobody saw.
  const firstToken =
    (await hub.tokens.count()) === 0 ? await hub.tokens.create({ user: 'admin', scopes: ['mcp', 'admin'], label: 'created on first start' }) : undefined;
  // stdout that is not a terminal is a log (systemd, docker, a CI job) that others read and keep:
  // there the token goes to a file only its owner can read.
  const tokenFile = firstToken && !process.stdout.isTTY ? writeTokenFile(config.dataDir, firstToken.token) : undefined;
  const self = { id: PROCESS_ID, url: (config.server.internalUrl ?? urlFor(listening.host, listening.port)).replace(/\/+$/, ''), startedAt: hub.clock.now() };
  replica = replicas ? await runReplica(replicas, self, { log }) : undefined;
  log.info({ url: listening.url, config: file ?? 'embedded defaults', dataDir: config.dataDir }, 'switchboard is serving');
  const lines = [`Switchboard is serving MCP at ${listening.url}`];
  // A replica (internalUrl set) behind a balancer on this machine names the balancer's port on purpose;
  // so does one without internalUrl, when the balancer there already answers with this store's keys.
  let elsewhere = config.server.internalUrl === undefined ? pinnedElsewhere(config.server.publicUrl, listening.port) : undefined;
  if (elsewhere && (await probeHub(config.server.publicUrl!, hub.integrations.links.keyId())).kind === 'same-keys') elsewhere = undefined;
  if (elsewhere) {
    log.warn({ publicUrl: config.server.publicUrl, port: listening.port }, elsewhere);
    lines.push(`  ${elsewhere}`);
  }
  const unreachable = replicas && hub.store.kind === 'postgres' ? loopbackToReplicas(config.server, listening.host, self.url) : undefined;
  if (unreachable) {
    log.warn({ internalUrl: self.url }, unreachable);
    lines.push(`  ${unreachable}`);
  }
  if (tokenFile) {
    lines.push(
      '',
      'An admin token was created for this new data directory. stdout is not a terminal, so it was',
      'written to a file only you can read (mode 0600) instead of here:',
      '',
      `    ${tokenFile}`,
      '',
      'Send it as the header `Authorization: Bearer <the token>`, then delete the file.',
      'Make more with `switchboard tokens create --user NAME`.',
    );
  } else if (firstToken) {
    lines.push(
      '',
      'An admin token was created for this new data directory. It is shown only this once:',
      '',
      `    ${firstToken.token}`,
      '',
      'Connect a client with the header:',
      `    Authorization: Bearer ${firstToken.token}`,
      '',
      'Make more with `switchboard tokens create --user NAME`.',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * A port in use, said with who holds it: a hub on this data dir (a `stdio` hub a client started,
 * perhaps) or on another one. Whose keys this data dir has is read only from a store that exists:
 * a new data dir is not made to tell.
 */
async function portInUse(err: unknown, config: HubConfig): Promise<unknown> {
  if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') return err;
  const url = publicUrlOf(config.server, { host: config.server.host, port: config.server.port });
  const file = sqliteStoreFile(config);
  let keyId = '';
  if (url !== undefined && (file === undefined || existsSync(file))) {
    const ctx = await openStore(config, silentLogger()).catch(() => undefined);
    keyId = ctx?.integrations.links.keyId() ?? '';
    ctx?.close();
  }
  const holder = url === undefined ? undefined : await probeHub(url, keyId);
  const who =
    holder?.kind === 'same-keys'
      ? ' by a Switchboard hub on this data dir (a `stdio` hub started by a client, perhaps): it already serves this store'
      : holder?.kind === 'other-keys'
        ? ` by a Switchboard hub on another data dir (${holder.dataDir ?? 'not disclosed'}; this one is ${config.dataDir}): links from either would be rejected by the other`
        : '';
  return new HubError('config_invalid', `port ${config.server.port} on ${config.server.host} is in use${who}; pass --port to pick another`);
}

/** Writes the first admin token to `<dataDir>/admin-token`, 0600 even when a stale file was there. */
function writeTokenFile(dataDir: string, token: string): string {
  const file = join(dataDir, 'admin-token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/**
 * A publicUrl on this machine naming another port than the one the hub listens on (`--port` beside
 * a config that pins the URL): the banner, the links and the OAuth metadata would all point where
 * this hub is not, so it is said at start.
 */
function pinnedElsewhere(publicUrl: string | undefined, port: number): string | undefined {
  if (publicUrl === undefined) return undefined;
  const u = new URL(publicUrl);
  const named = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  if (!isLoopbackHost(u.hostname) || named === port) return undefined;
  return `server.publicUrl (${publicUrl}) names port ${named} on this machine, but this hub listens on ${port}: its links and OAuth metadata point there. Remove publicUrl from the config, or set it to http://127.0.0.1:${port}.`;
}

/**
 * On PostgreSQL the replicas may run on several hosts, and with a wildcard bind and no
 * `server.internalUrl` this one tells them to reach it on loopback, where on another host every
 * retry it holds ends as source_crashed. Said at start rather than found out in production.
 */
function loopbackToReplicas(server: HubConfig['server'], host: string, url: string): string | undefined {
  if (server.internalUrl !== undefined || (host !== '0.0.0.0' && host !== '::')) return undefined;
  return `Other replicas reach this one at ${url} (server.internalUrl is not set): right only while every replica runs on this host; on several hosts set server.internalUrl to an address they can reach`;
}
