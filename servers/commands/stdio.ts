import { urlAwaitsListen } from '../../src/config/public-url.js';
import { Hub } from '../../src/hub.js';
import { localIdentity } from '../../src/identity/identity.js';
import { createLogger } from '../../src/observability/logger.js';
import { hostedSandbox } from '../sandbox/hosted.js';
import { configFromFlags, parse, str } from '../common.js';
import { onShutdown } from '../shutdown.js';
import { identityName } from '../../src/identity/names.js';
import { createServer } from 'node:net';
import type { Logger } from 'pino';

const HTTP_DELAY_MS = 300;
/** The longest a link waits for the hub to know where links open. */
const LINKS_SETTLE_MAX_MS = 5_000;
/**
 * Between attempts to bind an HTTP port another process holds: doubling from the first, capped so
 * that once the holder quits (another desktop client's hub) this hub takes the port within seconds.
 * A webhook sent meanwhile is refused, and GitHub does not redeliver a failed delivery on its own.
 */
const PORT_RETRY_FIRST_MS = 500;
const PORT_RETRY_MAX_MS = 5_000;
const STDIO_USAGE = 'usage: switchboard stdio [--config FILE] [--data DIR] [--user U] [--port N] [--no-http]';

/** What the CLI's loader of the bundle (servers/cli.ts, servers/code-cache.ts) hands in. */
export interface StdioHooks {
  /** How the bundle was compiled: from the code cache, or why not. Logged at debug. */
  codeCache?: string;
  /** Called once the first tools/list answer has left: writing the code cache then delays no answer the client waits for. */
  afterFirstList?: () => void;
}

export async function stdioCommand(argv: string[], hooks: StdioHooks = {}): Promise<void> {
  const { flags } = parse(argv, { 'no-http': { type: 'boolean' } }, { command: 'stdio', usage: STDIO_USAGE, takes: 0 });
  if (flags['help']) {
    process.stdout.write(`${STDIO_USAGE}\n`);
    return;
  }
  // Checked before anything starts: an identity the hub could not name everywhere else is refused.
  const user = identityName(str(flags['user']) ?? 'local', 'user');
  const { config } = configFromFlags(flags, { coldStart: true });
  // stdout belongs to the protocol: the logger writes to stderr only.
  const log = createLogger({ level: config.logLevel, destination: 2 });
  const http = flags['no-http'] !== true;
  // Port 0: the OS picks the port as the listener binds, before the hub is built, so links and the
  // hosted sandbox name that port. Binding is cheap; the HTTP stack still loads a moment later.
  const listener = http && urlAwaitsListen(config.server) ? await import('../../src/http/listener.js').then((m) => m.bindHttp(config.server)) : undefined;
  const hub = await Hub.open({ config, log, hosted: [hostedSandbox()], ...(listener ? { listener } : {}) }).catch(async (err: unknown) => {
    // A store that cannot be opened ends start-up: the listener bound for it must not keep the process alive.
    await listener?.close();
    throw err;
  });
  // The master key is checked before the face reads stdin: with a missing or wrong key the client
  // must see start-up fail (exit 1), not an initialized server on a closed store. `start()` opens
  // the vault first anyway and finds it open, so the first tools/list waits no longer.
  await hub.vault.open().catch(async (err: unknown) => {
    await hub.stop();
    await listener?.close();
    throw err;
  });
  const face = hub.serveStdio(localIdentity(user));
  if (hooks.codeCache !== undefined) log.debug({ codeCache: hooks.codeCache }, 'stdio bundle compiled');
  const afterFirstList = hooks.afterFirstList;
  if (afterFirstList) void face.listed.then(() => setImmediate(afterFirstList));
  await hub.start();
  const stop = onShutdown(() => hub.stop(), log);
  // Any end of the connection (stdin closed, stdout broken) stops the hub and its children, so a
  // host that has gone never leaves a silent hub behind. Not stdin's end itself: the face first
  // answers the requests read before it (a script pipes its requests, then closes stdin), and
  // closes at once when none is under way (a desktop client closes stdin to stop the hub).
  void face.closed.then(stop);
  // A moment later, so neither loading the HTTP stack nor probing for a hub (fetch loads undici)
  // delays the handshake a desktop client waits for. A link asked for meanwhile waits until it is
  // known where links open (LinkSigner.settled): bound here, or the hub serving this data dir.
  let settle = () => {};
  const settled = new Promise<void>((res) => (settle = res));
  hub.integrations.links.settled = settled;
  setTimeout(() => {
    // Bounded: a probe that hangs must not hold a link for longer than a client's patience.
    setTimeout(settle, LINKS_SETTLE_MAX_MS).unref();
    if (!http) {
      // No HTTP face of its own: the links go where the hub serving this data dir answers.
      void import('../hub-at.js')
        .then((m) => m.aimLinks(hub))
        .catch((err: unknown) => log.warn({ err: String(err) }, 'could not find the hub serving this data dir'))
        .finally(settle);
      return;
    }
    // OAuth callbacks and webhooks need an HTTP listener; a `serve` on the same port already has one.
    hub
      .listen()
      .then(
        (l) => log.info({ url: l.url }, 'stdio hub also listening on HTTP'),
        (err: NodeJS.ErrnoException) => {
          log.info({ code: err.code }, 'HTTP port busy; stdio only until it is free');
          if (err.code === 'EADDRINUSE') takePortWhenFree(hub, log);
        },
      )
      .finally(settle);
  }, HTTP_DELAY_MS).unref();
}

/**
 * Binds the HTTP port once its holder lets go of it, so OAuth callbacks and webhooks keep reaching a
 * hub on this data dir while one runs. Quiet while the port stays taken: each attempt is a bare bind
 * probe, not `hub.listen()`, which asks the holder who it is and warns again each time.
 */
function takePortWhenFree(hub: Hub, log: Logger): void {
  const { port, host } = hub.config.server;
  let waitMs = PORT_RETRY_FIRST_MS;
  const attempt = async (): Promise<void> => {
    if (hub.phase === 'stopping') return;
    if (await portFree(port, host)) {
      try {
        const l = await hub.listen();
        // The links' warning named whatever held the port; they now open on this hub.
        hub.integrations.links.foreign = undefined;
        log.info({ url: l.url }, 'HTTP port free again: stdio hub now listening on HTTP');
        return;
      } catch (err) {
        // Taken again between the probe and the bind: wait on; anything else no retry mends.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
          log.warn({ err: String(err) }, 'could not listen on HTTP; stdio only');
          return;
        }
      }
    }
    waitMs = Math.min(waitMs * 2, PORT_RETRY_MAX_MS);
    setTimeout(() => void attempt(), waitMs).unref();
  };
  setTimeout(() => void attempt(), waitMs).unref();
}

/** Whether `host:port` can be bound now: binds and releases it at once. */
function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}
