import { urlAwaitsListen } from '../../src/config/public-url.js';
import { Hub } from '../../src/hub.js';
import { localIdentity } from '../../src/identity/identity.js';
import { createLogger } from '../../src/observability/logger.js';
import { hostedSandbox } from '../sandbox/hosted.js';
import { configFromFlags, parse, str } from '../common.js';
import { onShutdown } from '../shutdown.js';
import { identityName } from '../../src/identity/names.js';

const HTTP_DELAY_MS = 300;
/** The longest a link waits for the hub to know where links open. */
const LINKS_SETTLE_MAX_MS = 5_000;
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
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
  // Any end of the connection (stdin closed, stdout broken) stops the hub and its children, so a
  // host that has gone never leaves a silent hub behind.
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
        (err: NodeJS.ErrnoException) => log.info({ code: err.code }, 'HTTP port busy; stdio only'),
      )
      .finally(settle);
  }, HTTP_DELAY_MS).unref();
}
