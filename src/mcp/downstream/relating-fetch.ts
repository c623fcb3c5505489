import { nodeFetch } from './node-fetch.js';
import { CALL_HEADER, CALL_TAG } from './relate.js';
import { isRecord } from '../../is-record.js';

export type RelatingFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * A fetch for a downstream HTTP client that relates each call's SSE answer stream to the call.
 * `onCut` hears of a call whose stream the server ended before the answer (SEP-1699 polling: the
 * client is to reconnect), so the hub can end its own caller's stream the same way.
 */
export function relatingFetch(onCut: (tag: string) => void): RelatingFetch {
  return async (input, init = {}) => {
    const headers = init.headers;
    const tag = headers instanceof Headers ? headers.get(CALL_HEADER) : null;
    if (tag === null || !(headers instanceof Headers)) return nodeFetch(input, init);
    headers.delete(CALL_HEADER);
    const response = await nodeFetch(input, init);
    if (!response.body || !response.headers.get('content-type')?.includes('text/event-stream')) return response;
    const stamped = response.body.pipeThrough(stampStream(tag, () => onCut(tag)));
    return new Response(stamped, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/**
 * Stamps every request and notification on an SSE stream with the call's tag. Servers write each
 * message as one `data:` line (JSON has no raw newlines); any other line passes through as is.
 */
function stampStream(tag: string, onCut: () => void): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  let answered = false;
  const stamp = (line: string): string => {
    // A POST's stream answers that POST's one request: any response on it is the answer.
    if (!answered && line.startsWith('data:') && !line.includes('"method"') && isResponse(line.slice(5))) answered = true;
    return stampLine(line, tag);
  };
  return new TransformStream({
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
