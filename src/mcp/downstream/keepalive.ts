import type { Client } from '@modelcontextprotocol/client';
import { ProtocolError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { describeError } from '../../errors.js';
import type { ChangeKind } from '../source.js';
import { networkCause } from './connect-error.js';
import { KINDS } from './list-changes.js';
import { SessionEnded } from './session-ended.js';

/** How often the hub checks on an HTTP server it holds lists of. */
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
  /** Whether the server gave the connection a session (2025-era HTTP). */
  session: boolean;
  /** Reads a list again and announces it if it moved; rejects as the request did. */
  reread: (kind: ChangeKind) => Promise<void>;
  /** The server is unreachable: the source reconnects. */
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
 */
export function keepAlive(k: KeepAlive): KeepAliveHandle | undefined {
  const caps = k.client.getServerCapabilities();
  const legacy = k.client.getProtocolEra() !== 'modern';
  const unannounced = KINDS.filter((kind) => caps?.[kind] && (caps[kind].listChanged !== true || (legacy && !k.session)));
  if (unannounced.length === 0 && !(legacy && k.session)) return undefined;
  const intervalMs = k.intervalMs ?? KEEPALIVE_MS;
  // A ping still unanswered when the next check is due has missed; never under a second, which a
  // busy machine may take to answer (checks a fraction of a second apart would read that as a miss).
  const pingTimeoutMs = Math.min(PING_TIMEOUT_MS, Math.max(intervalMs, 1_000));
  const check = async () => {
    if (unannounced.length === 0) await k.client.ping({ timeout: pingTimeoutMs });
    for (const kind of unannounced) await k.reread(kind);
  };
  // Two failures running, not one: a lone reset on a healthy server would cut the calls in flight.
  let failed = 0;
  // One check at a time: one still waiting for its answer is not counted again by the next.
  let checking = false;
  const run = () => {
    if (checking) return;
    checking = true;
    check().then(
      () => {
        checking = false;
        failed = 0;
      },
      (err: unknown) => {
        checking = false;
        const answered = err instanceof SessionEnded || err instanceof ProtocolError;
        failed = answered ? 0 : failed + 1;
        // A refused connection is no passing reset: nothing listens there now.
        const net = networkCause(err);
        const silent = err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout;
        if (failed >= 2 || net?.refused) k.onLost(silent ? 'not answering: a check got no answer in time' : `unreachable: ${net?.text ?? describeError(err)}`);
      },
    );
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), check: run };
}
