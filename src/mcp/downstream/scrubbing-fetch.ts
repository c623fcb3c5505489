import { streamScrubber } from '../../agents/scrub.js';
import type { RelatingFetch } from './relating-fetch.js';
import { scrubberOf } from './server-secrets.js';

/**
 * The fetch of an HTTP downstream's SDK transport, with each 4xx and 5xx answer's body and status
 * text scrubbed of the server's secrets (server-secrets.ts). The SDK transport puts that body into
 * the error it throws (`Error POSTing to endpoint: …`, kept as the error's `text`), which reaches
 * the caller, /readyz, `doctor` and the log; a gateway's error page may quote the request's
 * Authorization header. The body is scrubbed as it is read, so one that is never read (a 405 to
 * the GET stream) costs nothing, and a secret split across two chunks is still found.
 */
export function scrubbingFetch(fetch: RelatingFetch, secrets: readonly string[]): RelatingFetch {
  if (secrets.length === 0) return fetch;
  const scrub = scrubberOf(secrets);
  return async (input, init) => {
    const response = await fetch(input, init);
    if (response.status < 400) return response;
    const headers = new Headers(response.headers);
    // The body handed on is decoded text of another length.
    headers.delete('content-length');
    headers.delete('content-encoding');
    return new Response(response.body && scrubbed(response.body, secrets), { status: response.status, statusText: scrub(response.statusText), headers });
  };
}

function scrubbed(body: ReadableStream<Uint8Array>, secrets: readonly string[]): ReadableStream<Uint8Array> {
  const scrubber = streamScrubber(secrets);
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, out) => out.enqueue(encoder.encode(scrubber.push(decoder.decode(chunk, { stream: true })))),
      flush: (out) => out.enqueue(encoder.encode(scrubber.push(decoder.decode()) + scrubber.end())),
    }),
  );
}
