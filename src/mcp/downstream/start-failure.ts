import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { Transport } from '@modelcontextprotocol/server';
import { describeError } from '../../errors.js';
import { describeConnectError } from './connect-error.js';
import { ChildStdioTransport } from './stdio-transport.js';
import { exitSummary, type Reason, withStderr, framed, reason } from './transport-for.js';

/**
 * Why a connection attempt failed, as `/readyz`, `doctor` and the log say it (`detail`) and as a
 * caller is told (`caller`: without the stderr of a process that serves more than one identity,
 * `shared`). A process that exited says more by its exit code and first meaningful stderr lines
 * than the SDK's message about the handshake it interrupted (its version probe's "connection
 * closed", then a bare "Connection closed" on each retry); a process that could not be spawned
 * (a missing command or working directory) has neither, and its spawn error names the cause. The
 * stderr is this attempt's process's own, never an earlier one's.
 */
export function startFailure(err: unknown, transport: Transport, shared: boolean): Reason {
  const child = transport instanceof ChildStdioTransport ? transport : undefined;
  if (child?.spawnError) return reason(`could not start: ${describeError(child.spawnError)}`);
  const info = child?.exitInfo;
  if (info !== undefined && (info.code !== null || info.signal !== null)) return framed(exitSummary(transport, shared), 'could not start: ');
  const how = `could not connect: ${timedOut(err) ?? describeConnectError(err)}`;
  const last = child?.stderrLog.tail().findLast((l) => l.trim() !== '');
  return withStderr(how, last, shared, (s) => `${how} (${s})`);
}

/**
 * The SDK's bare "Request timed out" after a handshake (or first list) the server never answered,
 * said as what happened and how long was waited: a server that hangs at start (waiting on stdin
 * for a prompt, a lock, a slow download) is shown so, not as a vague timeout.
 */
function timedOut(err: unknown): string | undefined {
  if (!(err instanceof SdkError) || err.code !== SdkErrorCode.RequestTimeout) return undefined;
  const data: unknown = err.data;
  const ms = typeof data === 'object' && data !== null && 'timeout' in data && typeof data.timeout === 'number' ? data.timeout : undefined;
  return `the server did not answer the hub's handshake or first lists${ms === undefined ? '' : ` within ${ms / 1000} s`} (Request timed out)`;
}
