import { HubError } from '../errors.js';
import { bufferedBytesLeft } from './node-fetch.js';

export function tooLarge(label: string, max: number): HubError {
  return new HubError('provider_response_too_large', `${label} sent a response larger than ${max} bytes; it was cut off`, { details: { maxBytes: max } });
}

/**
 * The response with its body counted while it streams: past `max` bytes the stream fails with
 * provider_response_too_large and `stop` aborts the exchange, so memory holds at most `max` bytes
 * of it (reading first and slicing after took a 200 MB answer whole). The count is of decoded
 * bytes, so a small compressed body that inflates past the cap is cut too.
 * `done` is told once when the body has ended, failed or been cancelled.
 */
export function capBody(res: Response, max: number, label: string, done: (reason?: unknown) => void, explain: (err: unknown) => unknown): Response {
  // Already whole in memory (node-fetch.ts): counted at once, no stream in between, no header read.
  const whole = bufferedBytesLeft(res);
  if (whole !== undefined) {
    if (whole.byteLength > max) {
      const err = tooLarge(label, max);
      done(err);
      throw err;
    }
    done();
    return res;
  }
  // RFC 9110 §8.6: a declared length past the cap is refused before reading any of it.
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > max) {
    const err = tooLarge(label, max);
    done(err);
    throw err;
  }
  if (res.body === null) {
    done();
    return res;
  }
  const reader = res.body.getReader();
  let seen = 0;
  const capped = new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          const why = explain(err);
          done(why);
          ctl.error(why);
          return;
        }
        if (chunk.done) {
          done();
          ctl.close();
          return;
        }
        seen += chunk.value.byteLength;
        if (seen > max) {
          const err = tooLarge(label, max);
          done(err);
          ctl.error(err);
          await reader.cancel(err).catch(() => {});
          return;
        }
        ctl.enqueue(chunk.value);
      },
      async cancel(reason) {
        done(reason ?? new Error('response body cancelled'));
        await reader.cancel(reason).catch(() => {});
      },
    },
    // Pull only as the reader asks: no read-ahead beyond what the caller consumes.
    { highWaterMark: 0 },
  );
  return new Response(capped, { status: res.status, statusText: res.statusText, headers: res.headers });
}
