import { type JSONRPCMessage, ProtocolErrorCode } from '@modelcontextprotocol/client';
import { describeConnectError, isUnreachable } from './connect-error.js';
import { nodeFetch } from './node-fetch.js';
import { CALL_HEADER, CALL_TAG } from './relate.js';
import { isRecord } from '../../is-record.js';

export type RelatingFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * A fetch for a downstream HTTP client that relates each call's SSE answer stream to the call.
 * `onCut` hears of a call whose stream the server ended before the answer (SEP-1699 polling: the
 * client is to reconnect), so the hub can end its own caller's stream the same way; and, with the
 * cause, of one that broke (the connection reset or closed mid-answer) before any event id, which
 * the SDK transport cannot resume: the call is to fail with that cause rather than wait out its
 * timeout. A break after an event id is the SDK's to resume (http-transport.ts hears if it cannot).
 */
export function relatingFetch(onCut: (tag: string, cause?: unknown) => void, onBroken?: (answer: JSONRPCMessage) => void): RelatingFetch {
  return async (input, init = {}) => {
    const headers = init.headers;
    const tag = headers instanceof Headers ? headers.get(CALL_HEADER) : null;
    if (tag === null || !(headers instanceof Headers)) return watched(input, init, onBroken);
    // A copy without the tag: the SDK sends these same headers again to follow a redirect.
    const sent = new Headers(headers);
    sent.delete(CALL_HEADER);
    const response = await nodeFetch(input, { ...init, headers: sent });
    if (!response.body || !response.headers.get('content-type')?.includes('text/event-stream')) return response;
    const stamp = stampStream(tag, () => onCut(tag));
    // Piped by hand, not pipeThrough, to hear of a break: the SDK transport reading the stream
    // reports it only to onerror. One the SDK's reader caused (an abort) is no break.
    response.body.pipeTo(stamp.writable).catch((err: unknown) => {
      if (!stamp.answered() && !stamp.primed() && init.signal?.aborted !== true) onCut(tag, err);
    });
    return new Response(stamp.readable, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/**
 * A request of no call (a resource read, a prompt, a completion, a list) whose SSE answer breaks
 * before its answer and before any event id: the SDK transport reports that to onerror only, and
 * the request waited out its timeout. `onBroken` is handed the error to answer it with, naming the
 * cause. A break after an event id is the SDK's to resume.
 */
async function watched(input: string | URL | Request, init: RequestInit, onBroken: ((answer: JSONRPCMessage) => void) | undefined): Promise<Response> {
  const id = onBroken && typeof init.body === 'string' ? requestIdOf(init.body) : undefined;
  const response = await nodeFetch(input, init);
  if (id === undefined || !response.body || !response.headers.get('content-type')?.includes('text/event-stream')) return response;
  const watch = stampStream(undefined, () => {});
  response.body.pipeTo(watch.writable).catch((err: unknown) => {
    if (watch.answered() || watch.primed() || init.signal?.aborted === true) return;
    const message = `the server's answer broke off: ${describeConnectError(err)}; the hub is reconnecting to it`;
    onBroken!({ jsonrpc: '2.0', id, error: { code: ProtocolErrorCode.InternalError, message } });
  });
  return new Response(watch.readable, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * The requests whose caller waits for one answer and has nothing else to learn from: a task's
 * requests (tasks/get, tasks/result) are the task link's, which reads a server gone mid-task
 * itself (it tells an unreachable server from an ended session), so they are not answered here.
 */
const ANSWERED_WHOLE = new Set([
  'resources/read',
  'prompts/get',
  'completion/complete',
  'resources/list',
  'resources/templates/list',
  'prompts/list',
  'tools/list',
]);

/** The id of the one JSON-RPC request a POST body carries, when it is one of ANSWERED_WHOLE; else undefined. */
function requestIdOf(body: string): string | number | undefined {
  try {
    const m: unknown = JSON.parse(body);
    if (!isRecord(m) || typeof m['method'] !== 'string' || !ANSWERED_WHOLE.has(m['method'])) return undefined;
    const id = m['id'];
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `fetch`, noting in `reach` the network failure of its latest request that could not reach the
 * server (one that could clears it): what kept the SDK transport from resuming a stream.
 */
export function reachWatchingFetch(fetch: RelatingFetch, reach: { failure: unknown }): RelatingFetch {
  return (input, init) =>
    fetch(input, init).then(
      (response) => {
        reach.failure = undefined;
        return response;
      },
      (err: unknown) => {
        reach.failure = isUnreachable(err) ? err : undefined;
        throw err;
      },
    );
}

/**
 * Stamps every request and notification on an SSE stream with the call's tag. Servers write each
 * message as one `data:` line (JSON has no raw newlines); any other line passes through as is.
 */
function stampStream(tag: string | undefined, onCut: () => void): TransformStream<Uint8Array, Uint8Array> & { answered: () => boolean; primed: () => boolean } {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  let answered = false;
  // An event id seen: the SDK transport resumes the stream from it after a break.
  let primed = false;
  const stamp = (line: string): string => {
    // A POST's stream answers that POST's one request: any response on it is the answer.
    if (!answered && line.startsWith('data:') && !line.includes('"method"') && isResponse(line.slice(5))) answered = true;
    if (!primed && line.startsWith('id:') && line.slice(3).trim() !== '') primed = true;
    return tag === undefined ? line : stampLine(line, tag);
  };
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      const end = pending.lastIndexOf('\n');
      if (end < 0) return;
      const lines = pending.slice(0, end + 1);
      pending = pending.slice(end + 1);
      controller.enqueue(encoder.encode(lines.split('\n').map(stamp).join('\n')));
    },
    flush(controller) {
      pending += decoder.decode();
      if (pending) controller.enqueue(encoder.encode(stamp(pending)));
      if (!answered) onCut();
    },
  });
  return Object.assign(stream, { answered: () => answered, primed: () => primed });
}

function isResponse(raw: string): boolean {
  try {
    const message: unknown = JSON.parse(raw);
    return isRecord(message) && 'id' in message && ('result' in message || 'error' in message);
  } catch {
    return false;
  }
}

function stampLine(line: string, tag: string): string {
  if (!line.startsWith('data:') || !line.includes('"method"')) return line;
  const cr = line.endsWith('\r') ? '\r' : '';
  const raw = line.slice(5, line.length - cr.length);
  try {
    const message: unknown = JSON.parse(raw);
    if (!isRecord(message) || typeof message['method'] !== 'string') return line;
    const params = isRecord(message['params']) ? message['params'] : {};
    const meta = isRecord(params['_meta']) ? params['_meta'] : {};
    return `data: ${JSON.stringify({ ...message, params: { ...params, _meta: { ...meta, [CALL_TAG]: tag } } })}${cr}`;
  } catch {
    return line;
  }
}
