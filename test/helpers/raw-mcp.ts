/** A JSON-RPC reply as it came off the wire. */
export interface RpcReply {
  result?: Record<string, unknown> & { resultType?: string; requestState?: string; inputRequests?: Record<string, unknown>; content?: unknown };
  error?: { code: number; message: string; data?: unknown };
}

/** The `_meta` envelope a 2026-07-28 client puts on every request. */
export function modernEnvelope(capabilities: Record<string, unknown> = { elicitation: {} }): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'raw-test', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  };
}

/** The headers of a 2026-07-28 request: its method, and its name for the methods that have one. */
export function modernHeaders(token: string, method: string, name?: string, extra: Record<string, string> = {}): Record<string, string> {
  return headers(token, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(name === undefined ? {} : { 'mcp-name': name }), ...extra });
}

/** A reply with the HTTP status and content type it came with. */
export interface RawReply extends RpcReply {
  status: number;
  contentType: string;
}

/**
 * One 2026-07-28 tools/call on the wire, headers and envelope as a client of that era sends them,
 * so a test can echo (or alter) `requestState` and `inputResponses` itself. `params` may override
 * `_meta`, `extra` joins the headers; the reply may come as JSON or as an SSE stream whose last
 * message is the answer.
 */
export async function rawModernCall(
  url: string,
  token: string,
  params: Record<string, unknown> & { name: string },
  extra: Record<string, string> = {},
): Promise<RawReply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: modernHeaders(token, 'tools/call', params.name, extra),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { arguments: {}, _meta: modernEnvelope(), ...params } }),
  });
  const contentType = res.headers.get('content-type') ?? '';
  const messages = messagesOf<RpcReply>(contentType, await res.text());
  return { ...messages.at(-1)!, status: res.status, contentType };
}

/**
 * One 2026-07-28 request of a client that declared the tasks extension (tools/call run as a task,
 * tasks/get, tasks/cancel…), as JSON; `name` is the tool for tools/call, else the task id.
 */
export async function modernTasksRpc(url: string, token: string, method: string, params: Record<string, unknown>, name: string): Promise<RpcReply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: modernHeaders(token, method, name),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method,
      params: { ...params, _meta: modernEnvelope({ extensions: { 'io.modelcontextprotocol/tasks': {} } }) },
    }),
  });
  return (await res.json()) as RpcReply;
}

/** The JSON-RPC messages of an answer, in order: each SSE event's data, or the one JSON body. */
function messagesOf<T>(contentType: string, text: string): T[] {
  if (!contentType.includes('text/event-stream')) return [JSON.parse(text) as T];
  return text
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trim())
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/**
 * One 2026-07-28 tools/call of `name` as a client of that era sends it (`meta` joins the
 * envelope), with every message of its answer: the SSE events before the result, or the one JSON body.
 */
export async function rawModernCallMessages<T>(
  url: string,
  token: string,
  name: string,
  args: Record<string, unknown>,
  meta: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<{ status: number; contentType: string; messages: T[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: modernHeaders(token, 'tools/call', name),
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args, _meta: { ...modernEnvelope({}), ...meta } } }),
    ...(signal ? { signal } : {}),
  });
  const contentType = res.headers.get('content-type') ?? '';
  return { status: res.status, contentType, messages: messagesOf<T>(contentType, await res.text()) };
}

const LEGACY = '2025-11-25';

function headers(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', ...extra };
}

/** The headers of a POST on a 2025 session, as a client of that era sends them. */
export function sessionHeaders(token: string, sessionId: string, extra: Record<string, string> = {}): Record<string, string> {
  return headers(token, { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY, ...extra });
}

/** A 2025 initialize over plain HTTP, with JSON-RPC id `id`: no GET stream follows, so the session stays idle. */
export async function rawInitialize(url: string, token: string, id = 1, version = LEGACY): Promise<{ status: number; sessionId: string | null; body: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: headers(token),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  return { status: res.status, sessionId: res.headers.get('mcp-session-id'), body: await res.text() };
}

/** A 2025 session opened over plain HTTP, with its standalone GET stream open and being read. */
export async function rawSessionWithStream(url: string, token: string): Promise<{ sessionId: string; ended: Promise<'ended'> }> {
  const init = await rawInitialize(url, token);
  const sessionId = init.sessionId;
  if (init.status !== 200 || !sessionId) throw new Error(`initialize answered ${init.status}`);
  const get = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY },
  });
  if (get.status !== 200 || !get.body) throw new Error(`GET stream answered ${get.status}`);
  const reader = get.body.getReader();
  const ended = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // A reset connection ends the stream as surely as a clean end does.
    }
    return 'ended' as const;
  })();
  return { sessionId, ended };
}

/** A ping on a 2025 session, with its status and (JSON or text) body. */
export async function ping(url: string, token: string, sessionId: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: headers(token, { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY }),
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
  });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : text };
}

/**
 * A fetch for an SDK client's transport that keeps what the client does not show: a copy of each
 * tools/call answer body as it came off the wire (`calls`), and the `Last-Event-ID` of each GET
 * that resumed a stream (`resumes`). `onCall` runs as each tools/call's response headers arrive.
 */
export function wireRecorder(onCall?: () => void) {
  const calls: Array<Promise<string>> = [];
  const resumes: string[] = [];
  const recording = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const res = await fetch(url, init);
    const lastEventId = new Headers(init?.headers).get('last-event-id');
    if ((init?.method ?? 'GET') === 'GET' && lastEventId !== null) resumes.push(lastEventId);
    if (typeof init?.body === 'string' && init.body.includes('"tools/call"')) {
      calls.push(
        res
          .clone()
          .text()
          .catch(() => ''),
      );
      onCall?.();
    }
    return res;
  };
  return { fetch: recording, calls, resumes };
}
