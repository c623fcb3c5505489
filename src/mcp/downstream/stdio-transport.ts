import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { ReadBuffer, serializeMessage, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';

export interface ChildParams {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string | undefined;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How long a child gets to exit on SIGTERM before the whole group is SIGKILLed. */
const KILL_GRACE_MS = 2000;

/**
 * A stdio client transport that puts the child in its own process group, so that shutdown kills
 * the whole tree (`npx` → `node` → grandchildren), not only the direct child, and reaps it.
 * The SDK's transport kills only the direct child. It exposes `pid` and `stderr` like the SDK's,
 * which is how the client recognises a stdio transport during version negotiation.
 */
export class ChildStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child?: ChildProcess;
  private readonly buffer = new ReadBuffer();
  private readonly inbox: JSONRPCMessage[] = [];
  private drainScheduled = false;
  private readonly stderrStream = new PassThrough();
  private exited?: Promise<ExitInfo>;
  private closedEmitted = false;
  exitInfo?: ExitInfo;

  constructor(private readonly params: ChildParams) {}

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
      const child = spawn(this.params.command, this.params.args, {
        env: { ...getDefaultEnvironment(), ...this.params.env },
        cwd: this.params.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        windowsHide: true,
      });
      this.child = child;
      this.exited = new Promise((res) => {
        child.once('exit', (code, signal) => {
          this.exitInfo = { code, signal };
          // The leader is gone; anything it left in its group is an orphan of ours.
          killGroup(child.pid, 'SIGKILL');
          res(this.exitInfo);
          this.emitClose();
        });
      });
      child.once('error', (err) => {
        // ENOENT and friends: no 'exit' follows a failed spawn.
        this.exitInfo ??= { code: null, signal: null };
        reject(err);
        this.onerror?.(err);
        this.emitClose();
      });
      child.once('spawn', () => resolve());
      child.stdout!.on('data', (chunk: Buffer) => this.read(chunk));
      child.stdout!.on('error', (err) => this.onerror?.(err));
      child.stdin!.on('error', (err) => this.onerror?.(err));
      child.stderr!.pipe(this.stderrStream);
    });
  }

  private read(chunk: Buffer): void {
    this.buffer.append(chunk);
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.buffer.readMessage();
      } catch (err) {
        this.onerror?.(err as Error);
        continue;
      }
      if (message === null) break;
      this.inbox.push(message);
    }
    if (!this.drainScheduled) this.drain();
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
    if (!stdin || stdin.destroyed) return Promise.reject(new Error('not connected'));
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  /** Closes stdin, asks the group to stop, and kills it if it has not exited within the grace time. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.exitInfo === undefined) {
      child.stdin?.end();
      killGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    this.buffer.clear();
    this.inbox.length = 0;
    this.emitClose();
  }

  private emitClose(): void {
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    // Messages held back by drain() were read before the exit: deliver them before the close.
    for (let m = this.inbox.shift(); m !== undefined; m = this.inbox.shift()) this.onmessage?.(m);
    this.onclose?.();
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
