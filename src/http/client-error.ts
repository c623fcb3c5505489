import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { httpError, type HubErrorCode } from '../errors.js';

/**
 * What Node's parser refused, and the code and words the hub gives it. Node's own answer is a bare
 * status line with no body (`400 Bad Request`, `431`, `408`), which tells a client's user nothing;
 * these say what was wrong in the shape every other refusal has (docs/errors.md). The request
 * could not be read, so its route is unknown: the hub's `{ error }` shape, not JSON-RPC.
 */
function refusalOf(err: NodeJS.ErrnoException): { code: HubErrorCode; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'headers_too_large', message: "the request's headers are over Node's limit (16 KiB by default); send fewer or shorter headers" };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'request_timeout', message: `the request's headers did not arrive within server.limits.headersTimeoutMs` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: 'body_too_large', message: 'the chunk extensions of the request body are over the limit' };
    default:
      return { code: 'bad_request', message: `the request is not valid HTTP/1.1 (${err.code ?? 'unreadable'}); nothing was done` };
  }
}

/** The response in flight on a keep-alive socket, if any (Node keeps it there; not typed). */
function responseInFlight(socket: Duplex): { headersSent: boolean } | undefined {
  const pending: unknown = Reflect.get(socket, '_httpMessage');
  return pending !== null && typeof pending === 'object' && 'headersSent' in pending ? (pending as { headersSent: boolean }) : undefined;
}

/**
 * Answers requests Node could not parse with a JSON body and a stable code, then closes the
 * connection, as Node's default does. A socket already reset, or one whose previous response has
 * begun (an SSE stream before a malformed pipelined request), is closed without a word: bytes
 * written then would land inside that response.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable || responseInFlight(socket)?.headersSent === true) {
      socket.destroy();
      return;
    }
    const { code, message } = refusalOf(err);
    const { status, body } = httpError(code, message);
    const text = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
    );
  });
}
