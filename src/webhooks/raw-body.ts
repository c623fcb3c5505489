import type { IncomingMessage } from 'node:http';

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
