import { describe, expect, it } from 'vitest';
import { callFailure } from '../../src/mcp/downstream/call-failure.js';

/**
 * An HTTP downstream's error page is shown cut at 300 characters in the call's error. The cut is
 * made on a code point: an emoji across it is left out whole, where `slice` kept half of it, a lone
 * UTF-16 surrogate that JSON writes as `\ud83d` and a UTF-8 encoder as U+FFFD.
 */
describe("an HTTP downstream's error text, cut", () => {
  it('never ends on half of a surrogate pair', () => {
    const page = `${'a'.repeat(299)}😀 the rest of a long gateway page`;
    const err = Object.assign(new Error('Streamable HTTP error'), { data: { status: 502, statusText: 'Bad Gateway', text: page } });
    const failed = callFailure(err, { server: 'api', what: 'tool search', timeoutMs: 60_000, signal: new AbortController().signal, exitSummary: () => '' });
    expect(failed.message).toBe(`api: tool search: the server answered HTTP 502 Bad Gateway (${'a'.repeat(299)}…)`);
    expect(failed.message).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});
