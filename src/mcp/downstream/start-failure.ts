import type { Transport } from '@modelcontextprotocol/server';
import { describeConnectError } from './connect-error.js';
import { ChildStdioTransport } from './stdio-transport.js';
import { exitSummary } from './transport-for.js';

/**
 * Why a connection attempt failed, as `/readyz`, `doctor` and the log say it. A process that
 * exited says more by its exit code and first meaningful stderr lines than the SDK's message
 * about the handshake it interrupted (its version probe's "connection closed", then a bare
 * "Connection closed" on each retry); a spawn failure (ENOENT) has neither, and the error names it.
 */
export function startFailure(err: unknown, transport: Transport, stderrTail: readonly string[]): string {
  const info = transport instanceof ChildStdioTransport ? transport.exitInfo : undefined;
  if (info !== undefined && (info.code !== null || info.signal !== null)) return `could not start: ${exitSummary(transport, stderrTail)}`;
  return `could not connect: ${describeConnectError(err)}${stderrTail.length ? ` (stderr: ${stderrTail.at(-1)})` : ''}`;
}
