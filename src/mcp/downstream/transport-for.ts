import type { Transport } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { isStdioServer, type McpServerConfig } from '../../config/schema.js';
import type { HubHttpTransport } from './http-transport.js';
import type { ChildRegistry } from './process-registry.js';
import { ChildStdioTransport } from './stdio-transport.js';

export interface TransportFor {
  name: string;
  config: McpServerConfig;
  log: Logger;
  maxMessageBytes?: number | undefined;
  processes?: ChildRegistry | undefined;
  /** A stream the HTTP transport cut, by the tag of the call it carried; `cause`: broken, not to be resumed. */
  onCut: (tag: string, cause?: unknown) => void;
  /** An HTTP server ended the connection's session, or (doubt) may have (session-ended.ts). */
  onSessionEnded?: () => void;
  onSessionDoubt?: () => void;
  /** A stdio server the hub is ending for a violation: from now on its calls wait for the restart. */
  onViolation?: (why: string) => void;
}

/**
 * The transport of one connection to a downstream server: a child process over stdio, or the
 * hub's HTTP client (`Http`, loaded with the first HTTP server). stderr is read by the stdio
 * transport in bounded lines, kept per process (its StderrLog) and each logged at debug.
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
      onStderrLine: (line) => log.debug({ source: o.name, stderr: line.slice(0, 2000) }, 'downstream stderr'),
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

/**
 * A reason a source gives, twice: `detail` whole, for operators (/readyz, `doctor`, the log), and
 * `caller` as a caller is shown it (a refused call, a call the server's exit cut).
 */
export interface Reason {
  detail: string;
  caller: string;
}

/** What a caller is told in place of the stderr of a process that serves more than one identity. */
export const STDERR_IN_LOG = "its stderr is in the hub's log";

/** Whether a connection is a stdio process not of one identity's own (role 'session'): its stderr may hold any of its callers' input. */
export const sharedProcess = (o: { config: McpServerConfig; role?: 'main' | 'session' | undefined }): boolean =>
  isStdioServer(o.config) && o.role !== 'session';

/** The same reason for both: nothing in it is one caller's. */
export const reason = (text: string): Reason => ({ detail: text, caller: text });

/** A reason put into a sentence, both ways. */
export const framed = (r: Reason, before: string, after = ''): Reason => ({ detail: `${before}${r.detail}${after}`, caller: `${before}${r.caller}${after}` });

/** The stderr part of a reason: a process that serves more than one identity (`shared`) may have printed another caller's input. */
export function withStderr(
  how: string,
  stderr: string | undefined,
  shared: boolean,
  say = (s: string) => `${how}; ${s}`,
  stream: 'stderr' | 'stdout' = 'stderr',
): Reason {
  if (!stderr) return reason(how);
  const inLog = stream === 'stderr' ? STDERR_IN_LOG : "its stdout is in the hub's log";
  return { detail: say(`${stream}: ${stderr}`), caller: say(shared ? inLog : `${stream}: ${stderr}`) };
}

/**
 * How a connection ended, for the reason a source gives: the stdio process's exit and its own
 * stderr (that process's, not an earlier one's), or the connection's close. `shared`: the process
 * serves more than one identity, and its callers are not shown its stderr.
 */
export function exitSummary(transport: Transport | undefined, shared: boolean): Reason {
  const t = transport instanceof ChildStdioTransport ? transport : undefined;
  // A server the hub ended for breaking a limit: the limit is the cause, not the signal it got.
  if (t?.violation) return reason(`ended by the hub: ${t.violation}`);
  const info = t?.exitInfo;
  const how = info ? (info.signal ? `signal ${info.signal}` : `exit code ${info.code}`) : 'connection closed';
  const stderr = t?.stderrLog.summary();
  // Silent on stderr: a server that printed its usage (or why it quit) on stdout is shown by that.
  if (stderr === undefined && t) return withStderr(how, t.stdoutText.summary(), shared, undefined, 'stdout');
  return withStderr(how, stderr, shared);
}

/** Whether the transport holds an HTTP server's session (`Mcp-Session-Id`). */
export function hasSessionId(transport: Transport | undefined): boolean {
  return transport !== undefined && 'sessionId' in transport && typeof transport.sessionId === 'string';
}
