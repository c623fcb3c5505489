import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';

export type RawBody = { ok: true; body: Buffer<ArrayBuffer> } | { ok: false; reason: 'too_large' | 'aborted' };

/**
 * The request body exactly as it arrived, at most `maxBytes` of it: signatures are over these
 * bytes, so nothing parses, decodes or re-serializes them first. A Content-Length over the cap is
 * refused before a byte is read; a body that grows past it (chunked) stops being kept at once.
 */
export function readRawBody(req: IncomingMessage, maxBytes: number): Promise<RawBody> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.resolve({ ok: false, reason: 'too_large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: RawBody) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return finish({ ok: false, reason: 'too_large' });
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish({ ok: true, body: Buffer.concat(chunks, size) }));
    req.once('error', () => finish({ ok: false, reason: 'aborted' }));
    req.once('close', () => finish(req.complete ? { ok: true, body: Buffer.concat(chunks, size) } : { ok: false, reason: 'aborted' }));
  });
}

/**
 * How much of a refused body is read and dropped so its sender hears the 413. Closing a socket
 * the sender is still writing to resets it: the sender sees EPIPE or ECONNRESET, not the answer,
 * and retries the delivery (Stripe for days). Past this the connection is closed all the same.
 */
export const DISCARD_BYTES = 64 * 1024 * 1024;

/**
 * Reads the rest of a body and drops it. True once the request ended within `maxBytes` (the
 * connection can then answer and stay open); false when more was sent, or it was cut off. The
 * body deadline of the HTTP layer bounds how long this waits.
 */
export function discardRest(req: IncomingMessage, maxBytes = DISCARD_BYTES): Promise<boolean> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (req.complete) return Promise.resolve(true);
  if (declared > maxBytes || req.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let size = 0;
    const finish = (ended: boolean) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onClose = () => finish(req.complete);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
    req.resume();
  });
}

export type DecodedBody =
  | { ok: true; body: Buffer<ArrayBuffer> }
  | { ok: false; code: 'unsupported_media_type' | 'bad_body' | 'body_too_large'; message: string };

const DECODERS = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  deflate: zlib.inflateSync,
  br: zlib.brotliDecompressSync,
} as const;

/**
 * The body a sender compressed, as the bytes it signed: a signature is over the payload, not over
 * its transfer form (RFC 9110 §8.4: Content-Encoding is a property of the representation). The
 * codings are undone last first, each cut at `maxBytes`, so a small compressed body cannot grow past
 * the limit an uncompressed one is held to. `identity` or no header leaves the bytes as they came.
 */
export function decodeBody(body: Buffer<ArrayBuffer>, contentEncoding: string | undefined, maxBytes: number): DecodedBody {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  let out: Buffer<ArrayBuffer> = body;
  for (const coding of codings.reverse()) {
    const decode = Object.hasOwn(DECODERS, coding) ? DECODERS[coding as keyof typeof DECODERS] : undefined;
    if (decode === undefined)
      return { ok: false, code: 'unsupported_media_type', message: `the content-encoding ${coding} is not supported (identity, gzip, deflate or br)` };
    try {
      out = decode(out, { maxOutputLength: maxBytes }) as Buffer<ArrayBuffer>;
    } catch (err) {
      if (err instanceof RangeError) return { ok: false, code: 'body_too_large', message: `the body decoded is over ${maxBytes} bytes` };
      return { ok: false, code: 'bad_body', message: `the body does not decode as its content-encoding ${coding} says` };
    }
  }
  return { ok: true, body: out };
}
