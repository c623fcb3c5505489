import type { Transport } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { isStdioServer, type McpServerConfig } from '../../config/schema.js';
import type { HubHttpTransport } from './http-transport.js';
import type { ChildRegistry } from './process-registry.js';
import { ChildStdioTransport } from './stdio-transport.js';

/** Lines of a stdio server's stderr a source keeps, for the reason it gives when the server fails. */
export const STDERR_TAIL = 20;

export interface TransportFor {
  name: string;
  config: McpServerConfig;
  log: Logger;
  maxMessageBytes?: number | undefined;
  processes?: ChildRegistry | undefined;
  /** The stderr lines kept (the last STDERR_TAIL, each cut at 500 characters). */
  stderrTail: string[];
  /** A stream the HTTP transport cut, by the tag of the call it carried. */
  onCut: (tag: string) => void;
  /** An HTTP server ended the connection's session, or (doubt) may have (session-ended.ts). */
  onSessionEnded?: () => void;
  onSessionDoubt?: () => void;
  /** A stdio server the hub is ending for a violation: from now on its calls wait for the restart. */
  onViolation?: (why: string) => void;
}

/**
 * The transport of one connection to a downstream server: a child process over stdio, or the
 * hub's HTTP client (`Http`, loaded with the first HTTP server). stderr is read by the stdio
 * transport in bounded lines; the source keeps a tail and logs each at debug.
 */
export function transportFor(o: TransportFor, Http: typeof HubHttpTransport | undefined): Transport {
  const { config, log } = o;
  if (isStdioServer(config)) {
    return new ChildStdioTransport({
      command: config.command,
      args: config.args,
      env: config.env,
      cwd: config.cwd,
      maxMessageBytes: o.maxMessageBytes,
      registry: o.processes,
      onViolation: o.onViolation,
      onStderrLine: (line) => {
        o.stderrTail.push(line.slice(0, 500));
        if (o.stderrTail.length > STDERR_TAIL) o.stderrTail.shift();
        log.debug({ source: o.name, stderr: line.slice(0, 2000) }, 'downstream stderr');
      },
    });
  }
  if (!Http) throw new Error('the HTTP client stack was not loaded');
  return new Http(new URL(config.url), {
    headers: config.headers,
    onCut: o.onCut,
    ...(o.onSessionEnded ? { onSessionEnded: o.onSessionEnded } : {}),
    ...(o.onSessionDoubt ? { onSessionDoubt: o.onSessionDoubt } : {}),
  });
}

/** How a connection ended, for the reason a source gives: the stdio process's exit and stderr, or the connection's close. */
export function exitSummary(transport: Transport | undefined, stderrTail: readonly string[]): string {
  const t = transport instanceof ChildStdioTransport ? transport : undefined;
  // A server the hub ended for breaking a limit: the limit is the cause, not the signal it got.
  if (t?.violation) return `ended by the hub: ${t.violation}`;
  const info = t?.exitInfo;
  const how = info ? (info.signal ? `signal ${info.signal}` : `exit code ${info.code}`) : 'connection closed';
  const stderr = t ? t.stderrLog.summary() : stderrTail.at(-1);
  return stderr ? `${how}; stderr: ${stderr}` : how;
}

/** Whether the transport holds an HTTP server's session (`Mcp-Session-Id`). */
export function hasSessionId(transport: Transport | undefined): boolean {
  return transport !== undefined && 'sessionId' in transport && typeof transport.sessionId === 'string';
}
