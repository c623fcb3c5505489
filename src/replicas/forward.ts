import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { ERROR_META_KEY, ERROR_SPECS, jsonRpcHttpError, sendError } from '../errors.js';
import type { TaskOwner } from '../mcp/tasks/types.js';
import { DEFAULT_HEARTBEAT_MS, MISSED_BEATS, type ReplicaRegistry } from './registry.js';
import { TASK_METHODS, type TaskHolderLookup } from './tasks.js';

/**
 * Marks a request one replica sent on to another, naming the process it is meant for (its
 * PROCESS_ID). A marked request is never sent on again. A process at that address that is not the
 * one named (the holder was restarted under the same `internalUrl`) holds none of its state and
 * answers 421 Misdirected Request (RFC 9110 §15.5.20): the sender then answers as for a holder
 * that is gone, rather than relaying what a process that never held the state says of it.
 */
export const FORWARDED_HEADER = 'x-switchboard-forwarded';
/** The mark of replicas that named no process (during a rolling upgrade): served where it lands, as they expect. */
const UNNAMED = '1';
/** What a process answers a request meant for another one: only the replica that sent it reads it. */
const MISDIRECTED = { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'the Switchboard process this request was sent to does not run here' } };

/** The methods whose retry carries a `requestState` (the 2026-07-28 multi-round-trip pattern). */
const RETRY_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);

/** Why a forwarded round ended unanswered, in the hub's own words: the one reason a client is told. */
const NO_ANSWER = 'the owner did not answer in time';
const NO_HEARTBEAT = 'it stopped sending heartbeats while the call waited';
/** The reasons a client may be told. */
type OwnReason = typeof NO_ANSWER | typeof NO_HEARTBEAT;

/** The longest a forwarded round may take: a held round lasts at most its hold (held-calls.ts, 10 min). */
const DEFAULT_TIMEOUT_MS = 600_000;

/**
 * What of the client's request goes along: its credentials and the MCP headers the owner checks
 * (protocol version, Mcp-Method/Mcp-Name, Mcp-Param-*). Not `host` (the owner's own), not `origin`
 * (checked here already), not cookies or anything else the owner has no use for.
 */
const FORWARDED = new Set(['authorization', 'content-type', 'accept', 'user-agent']);
/** RFC 9110 §7.6.1: connection-specific fields stay on their hop. */
const NOT_RELAYED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

export interface RetryForwarderOptions {
  registry: ReplicaRegistry;
  /** This process's PROCESS_ID: a state it holds itself is served here. */
  self: string;
  /** The PROCESS_ID holding the state a retry resumes (held-calls.ts `ownerOf`), or undefined. */
  ownerOf: (requestState: string) => Promise<string | undefined>;
  /**
   * The PROCESS_ID whose memory a 2026 task request needs (tasks.ts `taskHolders`), or undefined
   * when any replica can answer it from the store. Without it, task requests are served here.
   */
  taskHolder?: TaskHolderLookup;
  log: Logger;
  timeoutMs?: number;
  /** How often a forwarded round checks that its holder is still alive; the heartbeat interval unless told. */
  checkEveryMs?: number;
}

/** A 2026 task request: tasks/get, tasks/update or tasks/cancel naming a task id. */
function taskRequestOf(body: unknown): { method: string; taskId: string } | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const msg = body as { method?: unknown; params?: unknown };
  if (typeof msg.method !== 'string' || !TASK_METHODS.has(msg.method)) return undefined;
  const taskId: unknown = typeof msg.params === 'object' && msg.params !== null ? (msg.params as { taskId?: unknown }).taskId : undefined;
  return typeof taskId === 'string' ? { method: msg.method, taskId } : undefined;
}

interface Retry {
  id: string | number | null;
  method: string;
  requestState: string;
}

/** A 2026-07-28 retry: a JSON-RPC request of a retry method with a string `requestState`. */
function retryOf(body: unknown): Retry | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const msg = body as { id?: unknown; method?: unknown; params?: unknown };
  if (typeof msg.method !== 'string' || !RETRY_METHODS.has(msg.method)) return undefined;
  const params = msg.params;
  if (typeof params !== 'object' || params === null) return undefined;
  const state: unknown = (params as { requestState?: unknown }).requestState;
  if (typeof state !== 'string') return undefined;
  const id = typeof msg.id === 'string' || typeof msg.id === 'number' ? msg.id : null;
  return { id, method: msg.method, requestState: state };
}

/**
 * Sends a 2026-07-28 retry whose state another replica holds in memory to that replica, and relays
 * its answer (issue 13: never "not found" while the owner is alive); the same for a task request
 * whose answer needs the holder's memory. The owner's address comes from the replica registry
 * only, never from the request, so a client cannot point this replica at an address of its
 * choosing. The client's own credentials go along: the owner authenticates the request and checks
 * the state's binding to the caller as it does for any retry.
 */
export class RetryForwarder {
  private readonly checkEveryMs: number;

  constructor(private readonly opts: RetryForwarderOptions) {
    this.checkEveryMs = opts.checkEveryMs ?? DEFAULT_HEARTBEAT_MS;
  }

  /**
   * Answers `res` and resolves true when the request belongs elsewhere; false leaves it to this
   * replica. `owner` is the authenticated caller, whose tasks alone are looked up.
   */
  async handle(req: Request, res: Response, body: unknown, owner: TaskOwner): Promise<boolean> {
    if (req.method !== 'POST') return false;
    const meantFor = req.headers[FORWARDED_HEADER];
    if (meantFor !== undefined) {
      // Sent here by another replica: served here when meant for this process; meant for another,
      // that process no longer runs (this one took its address), which the sender says in its stead.
      if (meantFor === UNNAMED || meantFor === this.opts.self) return false;
      res.status(421).json(MISDIRECTED);
      return true;
    }
    const retry = retryOf(body);
    if (retry) return this.handleRetry(req, res, body, retry);
    const task = this.opts.taskHolder ? taskRequestOf(body) : undefined;
    if (task && this.opts.taskHolder) {
      const holder = await this.opts.taskHolder(owner, task.taskId, task.method);
      if (holder === undefined || holder === this.opts.self) return false;
      const replica = await this.opts.registry.lookup(holder);
      // Never registered (a `stdio` hub): served here, from the record, which names where it runs.
      if (replica === undefined) return false;
      // Tried even when its heartbeat is stale (see `forward`): a failed state is final, so the
      // record says the holder is gone only once its address showed it.
      if ((await this.forward(req, res, body, holder, replica.url, task.method)) === 'relayed') return true;
      // Gone (stopped or killed: refusing connections; restarted: another process at its address;
      // frozen: not beating): the task is served here from its record, which must say so first.
      await this.holderGone(owner, task.taskId, holder);
      return false;
    }
    return false;
  }

  private async holderGone(owner: TaskOwner, taskId: string, holder: string): Promise<void> {
    try {
      await this.opts.taskHolder?.gone?.(owner, taskId);
      this.opts.log.info({ holder, task: taskId }, 'a task request names a process that is no longer running');
    } catch (err) {
      this.opts.log.warn({ holder, task: taskId, err: (err as Error).message }, 'could not record that a task lost the process running it');
    }
  }

  private async handleRetry(req: Request, res: Response, body: unknown, retry: Retry): Promise<boolean> {
    const owner = await this.opts.ownerOf(retry.requestState);
    if (owner === undefined || owner === this.opts.self) return false;
    const replica = await this.opts.registry.lookup(owner);
    // Never registered (a `stdio` hub, which serves no HTTP): served here, where the source says
    // which process holds the call and that only it can resume it.
    if (replica === undefined) return false;
    const outcome = await this.forward(req, res, body, owner, replica.url, retry.method);
    if (outcome !== 'relayed') this.gone(res, retry, owner, ownReason(outcome.unreachable));
    return true;
  }

  /**
   * Sends the request to `<base>/mcp` and relays the answer. Resolves `unreachable` (with why)
   * when nothing was answered yet, so the caller still decides what the client hears.
   *
   * Sent whatever the holder's heartbeat says: a stale one is no proof of death, since every
   * replica's beats go stale while the store itself is away (a PostgreSQL restart or failover).
   * What proves the holder gone is its address: refused (stopped, killed), answered 421 by another
   * process (restarted there), or silent while it stops beating (frozen; see `heartbeatWatch`).
   */
  private forward(req: Request, res: Response, body: unknown, owner: string, base: string, method: string): Promise<'relayed' | { unreachable: string }> {
    let target: URL;
    try {
      target = new URL(`${base.replace(/\/+$/, '')}/mcp`);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`unsupported scheme ${target.protocol}`);
    } catch (err) {
      this.opts.log.warn({ owner, err: (err as Error).message }, 'a replica registered an address that cannot be used');
      return Promise.resolve({ unreachable: 'its registered address cannot be used' });
    }
    const bytes = Buffer.from(JSON.stringify(body));
    const headers: OutgoingHttpHeaders = { ...forwardedHeaders(req.headers), [FORWARDED_HEADER]: owner, 'content-length': String(bytes.byteLength) };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((done) => {
      const upstream = send(target, { method: 'POST', headers, timeout: this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
      // Small JSON-RPC messages: Nagle's algorithm would hold one back for the peer's delayed ACK.
      upstream.once('socket', (socket) => socket.setNoDelay(true));
      // The client going away ends the forwarded round too, as it would end it on the owner.
      const cancel = () => upstream.destroy(new Error('the client closed the request'));
      res.once('close', cancel);
      // A holder that stops beating while the round waits (frozen: SIGSTOP, a hung event loop) is
      // gone, and a retry to a gone holder is answered at once (README, Operations: several
      // replicas), not after the round's timeout.
      const stale = heartbeatWatch(this.opts.registry, owner);
      const watch = setInterval(() => void stale().then((gone) => gone && upstream.destroy(new Error(NO_HEARTBEAT))), this.checkEveryMs);
      watch.unref();
      const resolve = (outcome: 'relayed' | { unreachable: string }) => {
        clearInterval(watch);
        res.off('close', cancel);
        done(outcome);
      };
      upstream.once('timeout', () => upstream.destroy(new Error(NO_ANSWER)));
      upstream.once('response', (answer: IncomingMessage) => {
        // Another process at the holder's address (it was restarted there) answers 421: the holder is gone.
        if (answer.statusCode === 421) {
          answer.resume();
          this.opts.log.info({ owner, method }, 'another process answers at the address of the process holding a request');
          resolve({ unreachable: 'another process answers at its address' });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, relayedHeaders(answer.headers));
        // No flushHeaders: the headers leave with the first chunk, one write. Each chunk is written
        // as it arrives, so an SSE answer's events reach the client as the owner writes them.
        answer.pipe(res);
        // Cut mid-answer (the holder went away, or was given up): the client's stream ends with it.
        answer.once('error', () => {
          res.destroy();
          resolve('relayed');
        });
        answer.once('end', () => resolve('relayed'));
      });
      upstream.once('error', (err) => {
        if (res.headersSent || res.writableEnded || res.destroyed) {
          res.destroy();
          resolve('relayed');
          return;
        }
        // Refused or reset before any answer: a SIGKILLed replica is seen here before its heartbeat ages.
        this.opts.log.info({ owner, method, err: err.message }, 'the process holding a request could not be reached');
        resolve({ unreachable: err.message });
      });
      upstream.end(bytes);
      this.opts.log.debug({ owner, method }, 'request forwarded to the process holding its state');
    });
  }

  /**
   * The answer when the holder is gone: the state cannot be resumed anywhere, so the caller starts
   * over. Coded `source_crashed` (retryable: calling again is the remedy), as a call whose server
   * stopped during it is. Why it could not be reached stays in the log (a refused connection names
   * the holder's internal address, which is no client's business); only the hub's own reason is said.
   */
  private gone(res: Response, retry: Retry, owner: string, why?: OwnReason): void {
    const text = `This call was waiting for your answer in Switchboard process ${owner}, which is no longer running${
      why ? ` (${why})` : ''
    }, so it cannot be resumed. Call it again from the start.`;
    if (retry.method === 'tools/call') {
      const error = { code: 'source_crashed', retryable: ERROR_SPECS.source_crashed.retryable };
      res.status(200).json({
        jsonrpc: '2.0',
        id: retry.id,
        result: { content: [{ type: 'text', text }], isError: true, _meta: { [ERROR_META_KEY]: error }, resultType: 'complete' },
      });
      return;
    }
    // What the SDK answers for any state that cannot be used: -32602.
    sendError(res, jsonRpcHttpError('invalid_params', text, { id: retry.id }));
  }
}

/**
 * One forwarded round's check of its holder's heartbeat, run every interval: resolves true once the
 * holder counts as gone. A beat missed while the store itself was away proves nothing (every
 * replica missed it), so the holder is given up when it stops beating after a beat was seen, or
 * when it shows none in MISSED_BEATS checks in a row that read the store (stale from the start:
 * frozen before the round, or not yet beating again since the store came back). A check that
 * cannot read the store starts the count over.
 */
function heartbeatWatch(registry: ReplicaRegistry, owner: string): () => Promise<boolean> {
  let beating = false;
  let misses = 0;
  let checking = false;
  return async () => {
    if (checking) return false;
    checking = true;
    try {
      if ((await registry.lookup(owner))?.alive === true) {
        beating = true;
        misses = 0;
        return false;
      }
      misses += 1;
      return beating || misses >= MISSED_BEATS;
    } catch {
      beating = false;
      misses = 0;
      return false;
    } finally {
      checking = false;
    }
  };
}

function ownReason(why: string): OwnReason | undefined {
  return why === NO_ANSWER || why === NO_HEARTBEAT ? why : undefined;
}

function forwardedHeaders(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(h)) if (value !== undefined && (FORWARDED.has(name) || name.startsWith('mcp-'))) out[name] = value;
  return out;
}

function relayedHeaders(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(h)) if (value !== undefined && !NOT_RELAYED.has(name)) out[name] = value;
  return out;
}
