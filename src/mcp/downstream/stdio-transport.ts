import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { SdkError, SdkErrorCode, serializeMessage, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';
import { OVERSIZE_MARK } from './call-failure.js';
import { parseMessage } from './inbox.js';
import { LineSplitter, type OversizeLine } from './line-splitter.js';
import { formatBytes, peekOversize, type JsonRpcId } from './oversize.js';
import type { ChildRegistry } from './process-registry.js';
import { signalEach, strayDescendants, withNew, type KnownProcess } from './process-tree.js';
import { stdioSecrets } from './server-secrets.js';
import { StderrLog } from './stderr-log.js';

export interface ChildParams {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  /** Longest stdout line (one JSON-RPC message) accepted, in bytes; config `maxMessageBytes`. */
  maxMessageBytes?: number | undefined;
  /** Records the child so a later start can end it if this hub dies without stopping it. */
  registry?: ChildRegistry | undefined;
  /** Each stderr line, at most STDERR_LINE_BYTES long. */
  onStderrLine?: ((line: string) => void) | undefined;
  /**
   * The hub is ending this server for a violation (why), called before the failed call is
   * answered: a call its caller makes at once must wait for the restart, not go to this process.
   */
  onViolation?: ((why: string) => void) | undefined;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How long a child gets to exit on SIGTERM before its whole tree is SIGKILLed. */
const KILL_GRACE_MS = 2000;
const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/**
 * How long an oversize stdout line may keep streaming before the server is killed: long enough for
 * its end to arrive (a response's id is often written last), short enough that a server writing
 * without newlines does not hold calls for long. Its bytes are dropped meanwhile, never buffered.
 */
const OVERSIZE_END_WAIT_MS = 1000;
/**
 * How long the close waits after the child's exit for its stdout and stderr to end. Node reports
 * the exit before it has read what the child wrote last; the pipes end as soon as that is read,
 * unless a descendant outside the process group that the exit's kill did not reach holds them open.
 */
const STDIO_END_WAIT_MS = 1000;

/**
 * A stdio client transport that puts the child in its own process group, so that shutdown kills
 * the whole tree (`npx` → `node` → grandchildren), not only the direct child, and reaps it;
 * descendants that left the group (a helper in its own session, as puppeteer starts Chrome) are
 * found by parentage and ended with it (process-tree.ts). The SDK's transport kills only the
 * direct child. It exposes `pid` and `stderr` like the SDK's, which is how the client recognises
 * a stdio transport during version negotiation.
 */
export class ChildStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child?: ChildProcess;
  private readonly stdoutLines: LineSplitter;
  private readonly inbox: JSONRPCMessage[] = [];
  private drainScheduled = false;
  /** stdin is corked until the loop's check phase (coalesce). */
  private corked = false;
  private readonly stderrStream = new PassThrough();
  private exited?: Promise<ExitInfo>;
  private closedEmitted = false;
  /** Ids of our requests still unanswered: an oversize response may fail one of them, and only them. */
  private readonly pending = new Set<JsonRpcId>();
  private oversizeTimer: NodeJS.Timeout | undefined;
  private stdioEndTimer: NodeJS.Timeout | undefined;
  private readonly maxBytes: number;
  exitInfo?: ExitInfo;
  /** Why the process could not be started at all (no exit code follows), as start-failure.ts says it. */
  spawnError?: Error;
  /** Descendants found outside the child's process group (at close), ended with it. */
  private strays: KnownProcess[] = [];
  /** Why the hub ended this server, when it was the hub's doing (a protocol violation, no answer to its checks). */
  violation?: string;
  /** The first meaningful and the last lines of the child's stderr, bounded, its config's secrets redacted. */
  readonly stderrLog: StderrLog;
  /**
   * What the child printed on stdout that is not JSON-RPC (a usage text, a banner), kept as its
   * stderr is: a server that exits at once saying why only there is shown by it.
   */
  readonly stdoutText: StderrLog;

  constructor(private readonly params: ChildParams) {
    // The env of a server's config, and what `${NAME}` put into its args, is where its secrets go
    // (API keys, tokens, connection URLs); a server that prints them on a failed start must not
    // have them shown by /readyz, doctor, logs or a caller's error message.
    this.stderrLog = new StderrLog(stdioSecrets(params));
    this.stdoutText = new StderrLog(stdioSecrets(params));
    this.maxBytes = params.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.stdoutLines = new LineSplitter({ maxLineBytes: this.maxBytes, onLine: (l) => this.readLine(l), onOversize: (o) => this.oversize(o) });
    this.stderrLog.onLine = params.onStderrLine;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get stderr(): PassThrough {
    return this.stderrStream;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error('ChildStdioTransport already started');
    // The SDK's list of variables safe to inherit (PATH, HOME, …), as Claude Desktop passes them.
    const { getDefaultEnvironment } = await import('@modelcontextprotocol/client/stdio');
    return new Promise((resolve, reject) => {
      let spawned = false;
      const failed = (err: Error): void => {
        // ENOENT and friends: no 'exit' follows a failed spawn.
        this.exitInfo ??= { code: null, signal: null };
        const why = spawned ? err : (cwdProblem(this.params.cwd, err) ?? err);
        if (!spawned) this.spawnError = why;
        reject(why);
        this.onerror?.(why);
        this.emitClose();
      };
      let child: ChildProcess;
      try {
        child = spawn(this.params.command, this.params.args, {
          env: { ...getDefaultEnvironment(), ...this.params.env },
          cwd: this.params.cwd,
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true,
          windowsHide: true,
        });
      } catch (err) {
        // A cwd that is a file is thrown (`spawn ENOTDIR`) rather than emitted.
        failed(err as Error);
        return;
      }
      this.child = child;
      const pid = child.pid;
      if (pid !== undefined) this.params.registry?.spawned(pid, this.params.command);
      this.exited = new Promise((res) => {
        child.once('exit', (code, signal) => {
          this.exitInfo = { code, signal };
          clearTimeout(this.oversizeTimer);
          // The leader is gone; anything it left in its group, and the strays found while it ran
          // (here or by the registry's look), are orphans of ours.
          this.signalTree(child.pid, 'SIGKILL');
          if (pid !== undefined) this.params.registry?.exited(pid);
          res(this.exitInfo);
          // Not closed yet: an answer the server wrote just before it exited, and the stderr line
          // that says why it failed, are still in the pipes (a 1 MB answer was lost so).
          if (!this.closedEmitted) this.stdioEndTimer = setTimeout(() => this.emitClose(), STDIO_END_WAIT_MS);
        });
      });
      // 'close' comes once the exit is in and stdout and stderr have ended; stderr is read
      // through its PassThrough, whose end follows the pipe's.
      let ends = 0;
      const ended = (): void => {
        if (++ends === 2) this.emitClose();
      };
      child.once('close', ended);
      this.stderrStream.once('end', () => {
        this.stderrLog.end();
        ended();
      });
      child.once('error', failed);
      child.once('spawn', () => {
        spawned = true;
        resolve();
      });
      child.stdout!.on('data', (chunk: Buffer) => this.read(chunk));
      child.stdout!.on('error', (err) => this.onerror?.(err));
      child.stdin!.on('error', (err) => this.onerror?.(err));
      child.stderr!.pipe(this.stderrStream);
      // Read in flowing mode, line by line with a cap: a server that writes stderr without
      // newlines costs the hub a bounded buffer, not memory without end.
      this.stderrStream.on('data', (chunk: Buffer) => this.stderrLog.push(chunk));
    });
  }

  private read(chunk: Buffer): void {
    this.stdoutLines.push(chunk);
    if (!this.drainScheduled) this.drain();
  }

  private readLine(line: Buffer): void {
    let message: JSONRPCMessage;
    try {
      // A result or error checked by hand, anything else by the SDK's schema (inbox.ts).
      message = parseMessage(JSON.parse(line.toString('utf8')));
    } catch (err) {
      // Servers print banners and debug text on stdout; like the SDK, skip what is not JSON-RPC.
      if (!(err instanceof SyntaxError)) this.onerror?.(err as Error);
      else this.stdoutText.line(line.toString('utf8'));
      return;
    }
    if (!('method' in message) && 'id' in message && message.id !== undefined) this.pending.delete(message.id);
    this.inbox.push(message);
  }

  /**
   * A stdout line over maxMessageBytes breaks the protocol: the response it carried is lost, and a
   * server that writes one usually writes more. The call it answers fails now with a reason (not
   * after its timeout), the server is ended, and the source restarts it with `violation` as the
   * cause; calls still in flight fail when the connection closes.
   */
  private oversize(line: OversizeLine): void {
    if (this.violation === undefined) {
      this.violation = `it wrote a message over maxMessageBytes (${formatBytes(this.maxBytes)}) on stdout`;
      this.onerror?.(new Error(`stdout line over maxMessageBytes (${this.maxBytes} bytes)`));
      this.params.onViolation?.(this.violation);
    }
    const peek = peekOversize(line);
    if (peek.kind === 'response' && peek.id !== undefined && this.pending.delete(peek.id)) {
      const bytes = line.ended ? formatBytes(line.bytes) : `over ${formatBytes(line.bytes)}`;
      this.inbox.push({
        jsonrpc: '2.0',
        id: peek.id,
        error: { code: -32603, message: `the result was too large: ${bytes} exceeds maxMessageBytes (${formatBytes(this.maxBytes)})`, data: OVERSIZE_MARK },
      });
      if (!this.drainScheduled) this.drain();
    }
    if (line.ended || (peek.kind === 'response' && peek.id !== undefined)) this.endForViolation();
    else this.oversizeTimer ??= setTimeout(() => this.endForViolation(), OVERSIZE_END_WAIT_MS);
  }

  /**
   * Ends the server for `why` (it stopped answering, keepalive.ts): nothing more is sent to it, and
   * a call its end cuts is told why (transport-for.ts exitSummary) rather than only the signal.
   */
  async end(why: string): Promise<void> {
    this.violation ??= why;
    await this.close();
  }

  private endForViolation(): void {
    clearTimeout(this.oversizeTimer);
    const child = this.child;
    if (!child || this.exitInfo !== undefined) return;
    child.stdout?.pause();
    void this.close();
  }

  /**
   * The SDK dispatches a notification a microtask late but settles a response at once, so progress
   * read in the same chunk as its result finds its handler gone and is dropped
   * (modelcontextprotocol/typescript-sdk#2580). A response that follows a notification waits a turn.
   */
  private drain(): void {
    this.drainScheduled = false;
    let notified = false;
    for (let m = this.inbox.shift(); m !== undefined; m = this.inbox.shift()) {
      const response = !('method' in m);
      if (response && notified) {
        this.inbox.unshift(m);
        this.drainScheduled = true;
        setImmediate(() => this.drain());
        return;
      }
      notified ||= !response && !('id' in m);
      this.onmessage?.(m);
    }
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    // An SdkError, as the SDK's own transport would give, so the caller is told the server stopped.
    if (!stdin || stdin.destroyed || this.violation !== undefined || this.exitInfo !== undefined)
      return Promise.reject(new SdkError(SdkErrorCode.NotConnected, 'not connected'));
    if ('method' in message && 'id' in message) this.pending.add(message.id);
    this.coalesce(stdin);
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  /**
   * Messages sent in one turn of the event loop leave in one write. Each write to the child's
   * stdin is a system call that wakes the child, which on a small VM cost the hub ~0.2 ms a call,
   * a fifth of its CPU per proxied call (`npm run bench:proxy -- --no-load --hub-cpu-prof DIR`);
   * calls that arrive together (several callers) now share one. The write waits at most until the
   * loop's check phase, which follows the I/O the turn is handling; `end()` uncorks at once.
   */
  private coalesce(stdin: Writable): void {
    if (this.corked) return;
    this.corked = true;
    stdin.cork();
    setImmediate(() => {
      this.corked = false;
      stdin.uncork();
    });
  }

  /** Closes stdin, asks the tree to stop, and kills it if it has not exited within the grace time. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.exitInfo === undefined) {
      // Before stdin's EOF or any signal, while the child runs: once it has exited, its children
      // belong to init and can no longer be told from anyone else's.
      this.findStrays(child.pid);
      child.stdin?.end();
      this.signalTree(child.pid, 'SIGTERM');
      const timer = setTimeout(() => this.signalTree(child.pid, 'SIGKILL'), KILL_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    this.stdoutLines.clear();
    this.inbox.length = 0;
    this.emitClose();
  }

  private findStrays(pid: number | undefined): void {
    if (pid === undefined) return;
    const found = strayDescendants([pid]).get(pid) ?? [];
    if (found.length === 0) return;
    this.strays = withNew(this.strays, found);
    // Recorded too, so that a hub killed during the grace time leaves them to the next start's reap.
    this.params.registry?.strayed(pid, found);
  }

  /** Signals the child's process group and the strays found here or by the registry's look. */
  private signalTree(pid: number | undefined, signal: NodeJS.Signals): void {
    killGroup(pid, signal);
    if (pid !== undefined) signalEach(withNew(this.strays, this.params.registry?.strays(pid) ?? []), signal);
  }

  private emitClose(): void {
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    clearTimeout(this.stdioEndTimer);
    // Messages held back by drain() were read before the exit: deliver them before the close.
    for (let m = this.inbox.shift(); m !== undefined; m = this.inbox.shift()) this.onmessage?.(m);
    this.onclose?.();
  }
}

/**
 * A working directory the child could not be started in, said as such: Node reports a missing
 * `cwd` as the command's failure (`spawn /usr/bin/node ENOENT`, which sends a user looking for a
 * command that is there) and one that is a file as a bare `spawn ENOTDIR`. Looked at only once a
 * spawn has failed, so a start costs no extra system call.
 */
function cwdProblem(cwd: string | undefined, err: Error): Error | undefined {
  if (cwd === undefined) return undefined;
  let problem: string | undefined;
  try {
    if (!statSync(cwd).isDirectory()) problem = 'is not a directory';
    else accessSync(cwd, constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') problem = 'does not exist';
    else if (code === 'EACCES' || code === 'EPERM') problem = 'cannot be entered (permission denied)';
  }
  if (problem === undefined) return undefined;
  const full = resolvePath(cwd);
  return new Error(`the working directory ${full === cwd ? cwd : `${cwd} (${full})`} (cwd) ${problem}`, { cause: err });
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
