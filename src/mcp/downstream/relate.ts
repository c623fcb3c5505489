import { nodeFetch } from './node-fetch.js';

/**
 * `_meta` key that relates a downstream's server→client message to the hub's call. The hub puts
 * it on a tools/call it sends to a 2025-era HTTP server and takes it off before the request leaves
 * the process; the answer's SSE stream (where such a server sends the requests and log messages
 * of that call) gets it stamped on each message. The downstream never sees it.
 */
export const CALL_TAG = 'switchboard/call';

/** The call a server→client message was stamped with, if any. */
export function callTagOf(params: unknown): string | undefined {
  if (!isRecord(params) || !isRecord(params['_meta'])) return undefined;
  const tag = params['_meta'][CALL_TAG];
  return typeof tag === 'string' ? tag : undefined;
}

/** The params without the hub's stamp, as the caller should see them. */
export function withoutCallTag<T>(params: T): T {
  if (!isRecord(params) || !isRecord(params['_meta']) || !(CALL_TAG in params['_meta'])) return params;
  const { [CALL_TAG]: _drop, ...meta } = params['_meta'];
  const { _meta: _old, ...rest } = params;
  return (Object.keys(meta).length ? { ...rest, _meta: meta } : rest) as T;
}

/** A fetch for a downstream HTTP client that relates each call's SSE answer stream to the call. */
export async function relatingFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const body = init.body;
  if (typeof body !== 'string' || !body.includes(CALL_TAG)) return nodeFetch(input, init);
  const message: unknown = JSON.parse(body);
  const tag = isRecord(message) ? callTagOf(message['params']) : undefined;
  if (!isRecord(message) || tag === undefined) return nodeFetch(input, init);
  const outbound = { ...message, params: withoutCallTag(message['params']) };
  const response = await nodeFetch(input, { ...init, body: JSON.stringify(outbound) });
  if (!response.body || !response.headers.get('content-type')?.includes('text/event-stream')) return response;
  return new Response(response.body.pipeThrough(stampStream(tag)), { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * Stamps every request and notification on an SSE stream with the call's tag. Servers write each
 * message as one `data:` line (JSON has no raw newlines); any other line passes through as is.
 */
function stampStream(tag: string): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      const end = pending.lastIndexOf('\n');
      if (end < 0) return;
      const lines = pending.slice(0, end + 1);
      pending = pending.slice(end + 1);
      controller.enqueue(encoder.encode(lines.split('\n').map((l) => stampLine(l, tag)).join('\n')));
    },
    flush(controller) {
      pending += decoder.decode();
      if (pending) controller.enqueue(encoder.encode(stampLine(pending, tag)));
    },
  });
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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
