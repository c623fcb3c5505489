import type { Client } from '@modelcontextprotocol/client';
import { ProtocolError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { Transport } from '@modelcontextprotocol/server';
import { describeError } from '../../errors.js';
import type { ChangeKind } from '../source.js';
import { networkCause } from './connect-error.js';
import { KINDS } from './list-changes.js';
import { SessionEnded } from './session-ended.js';
import { ChildStdioTransport } from './stdio-transport.js';
import { hasSessionId } from './transport-for.js';

/** How often the hub checks on an HTTP server it holds lists of, or on a stdio server's process. */
export const KEEPALIVE_MS = 30_000;
/** How long a ping waits for its answer: 10 s, or less where checks come more often (a test's). */
const PING_TIMEOUT_MS = 10_000;

/** Stops the checks, or runs one now. */
export interface KeepAliveHandle {
  stop(): void;
  check(): void;
}

export interface KeepAlive {
  client: Client;
  /** The connection's transport: a stdio server's process, or HTTP with a session (2025-era) or without. */
  transport: Transport;
  /** Reads a list again and announces it if it moved; rejects as the request did. */
  reread: (kind: ChangeKind) => Promise<void>;
  /** The server is unreachable, or does not answer: the source reconnects, or starts the process again. */
  onLost: (detail: string) => void;
  intervalMs?: number | undefined;
}

/**
 * Checks on an HTTP server every 30 s, since the hub answers tools/list from its copy and would
 * otherwise never hear from it again: a server that restarted (forgetting the session), was
 * redeployed with other tools, or went away. The lists the server will not announce changes of
 * are read again — those it does not declare `listChanged` for, or all of them on a 2025 server
 * without a session, which has no stream to announce them on; with none such, a ping. A refusal
 * of the session — a 404, or the 400 naming it that servers built on the SDK examples send — reaches
 * the source through the transport (session-ended.ts) and ends the session there; a server that answers
 * at all, even with an error, is alive. One that answers nothing within the check's timeout has missed
 * it (a frozen or deadlocked process: its port still accepts, nothing answers), as has one that cannot be
 * reached; two misses running are `onLost`. Nothing at all is run where there is nothing to learn (a
 * 2026 server that announces every list it has).
 *
 * A stdio server is pinged only (server/discover on 2026-07-28, which has no ping): the hub sees its process exit and hears it announce its lists on
 * stdout, but not that it hangs (its event loop stuck, or deadlocked: the process lives and its
 * stdin stays open), after which every call to it would wait out its timeout, for good. After the
 * same two misses its process tree is ended as the source restarts it, which fails the calls it
 * still holds at once, saying why, rather than at their timeouts.
 */
export function keepAlive(k: KeepAlive): KeepAliveHandle | undefined {
  const caps = k.client.getServerCapabilities();
  const legacy = k.client.getProtocolEra() !== 'modern';
  const child = k.transport instanceof ChildStdioTransport ? k.transport : undefined;
  const session = hasSessionId(k.transport);
  const unannounced = child ? [] : KINDS.filter((kind) => caps?.[kind] && (caps[kind].listChanged !== true || (legacy && !session)));
  if (unannounced.length === 0 && !(legacy && session) && !child) return undefined;
  const intervalMs = k.intervalMs ?? KEEPALIVE_MS;
  // A ping still unanswered when the next check is due has missed; never under a second, which a
  // busy machine may take to answer (checks a fraction of a second apart would read that as a miss).
  const pingTimeoutMs = Math.min(PING_TIMEOUT_MS, Math.max(intervalMs, 1_000));
  // 2026-07-28 has no ping: its cheapest request is server/discover, which no cache answers.
  const ping = () => (legacy ? k.client.ping({ timeout: pingTimeoutMs }) : k.client.discover({ timeout: pingTimeoutMs }));
  const check = async () => {
    if (unannounced.length === 0) await ping();
    for (const kind of unannounced) await k.reread(kind);
  };
  // Two failures running, not one: a lone reset on a healthy server would cut the calls in flight.
  let failed = 0;
  // One check at a time: one still waiting for its answer is not counted again by the next.
  let checking = false;
  // A check still waiting when the connection ended (a process that exited, a stop) is no one's to count.
  let stopped = false;
  const run = () => {
    if (checking || stopped) return;
    checking = true;
    check().then(
      () => {
        checking = false;
        failed = 0;
      },
      (err: unknown) => {
        checking = false;
        if (stopped) return;
        const answered = err instanceof SessionEnded || err instanceof ProtocolError;
        failed = answered ? 0 : failed + 1;
        // A refused connection is no passing reset: nothing listens there now.
        const net = networkCause(err);
        const silent = err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout;
        if (failed < 2 && !net?.refused) return;
        const detail = silent ? 'not answering: a check got no answer in time' : `unreachable: ${net?.text ?? describeError(err)}`;
        k.onLost(detail);
        void child?.end(detail);
      },
    );
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return { stop, check: run };
}
