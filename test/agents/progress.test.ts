/**
 * An agent's partial output as progress (src/agents/progress.ts): one notification at a time, in
 * order; text that arrives while one is being sent, or within the pacing interval of the last,
 * joins the next, thoughts and tool calls never do; secrets are scrubbed from the merged text;
 * `flushed` sends what waits at once and waits for the last one.
 */
import { describe, expect, it } from 'vitest';
import { progressReporter } from '../../src/agents/progress.js';
import { streamScrubber } from '../../src/agents/scrub.js';
import type { ProgressUpdate } from '../../src/mcp/source.js';

function transport() {
  const sent: ProgressUpdate[] = [];
  const pending: Array<() => void> = [];
  const report = (p: ProgressUpdate) =>
    new Promise<void>((resolve) => {
      sent.push(p);
      pending.push(resolve);
    });
  /** Lets the notification in flight finish, then the reporter's next send start. */
  const deliver = async () => {
    pending.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { sent, report, deliver };
}

describe('progress from an agent stream', () => {
  it('merges the text that arrived during a send into the next notification, never across a tool call or a thought', async () => {
    const t = transport();
    const r = progressReporter(t.report, ['sk_secret_value']);
    r.push('writer', { kind: 'tool_call', tool: 'lookup' });
    r.push('writer', { kind: 'text', text: 'Once ' });
    r.push('writer', { kind: 'text', text: 'upon ' });
    r.push('writer', { kind: 'thought', text: 'pausing' });
    r.push('writer', { kind: 'text', text: 'a sk_secret' });
    r.push('writer', { kind: 'text', text: '_value time' });
    expect(t.sent).toEqual([{ progress: 1, message: 'agent writer is calling the tool lookup' }]);
    let done = false;
    const flushed = r.flushed().then(() => (done = true));
    for (let i = 0; i < 4; i++) await t.deliver();
    await flushed;
    expect(done).toBe(true);
    expect(t.sent).toEqual([
      { progress: 1, message: 'agent writer is calling the tool lookup' },
      { progress: 2, message: 'Once upon ' },
      { progress: 3, message: 'agent writer thinks: pausing' },
      { progress: 4, message: 'a [redacted] time' },
    ]);
  });

  it('catches a secret split across notifications: the text that could begin one waits for the next token', async () => {
    const sent: string[] = [];
    // Interval 0 and every send finished before the next token: each token would go on its own.
    const r = progressReporter(async (p) => void sent.push(p.message ?? ''), ['ua_SECRETKEY_1234', 'Bearer hdr_token_99'], 0);
    for (const token of ['your key is ua_SECRETK', 'EY_1234', ' and ua_S', 'ECRETKEY_0 is not it']) {
      r.push('echo', { kind: 'text', text: token });
      await new Promise((res) => setImmediate(res));
    }
    r.push('echo', { kind: 'tool_call', tool: 'lookup Bearer hdr_token_99' });
    r.push('echo', { kind: 'text', text: 'last ua_SEC' });
    await r.flushed();
    // No notification carries a piece of the key; "ua_SECRETKEY_0" only began like it.
    expect(sent).toEqual([
      'your key is ',
      '[redacted]',
      ' and ',
      'ua_SECRETKEY_0 is not it',
      'agent echo is calling the tool lookup [redacted]',
      // What was held back at the end goes out before the result: a prefix that never became a secret.
      'last ua_SEC',
    ]);
  });

  it('the stream scrubber holds back only what could still become a secret', () => {
    const s = streamScrubber(['abcdef', 'efgh']);
    expect(s.push('xx abc')).toBe('xx ');
    expect(s.push('dxx')).toBe('abcdxx');
    // "abcdef" whole inside one piece, "efgh" overlapping its end: each found.
    expect(s.push('abcdefgh ef')).toBe('[redacted]gh ');
    expect(s.end()).toBe('ef');
    expect(streamScrubber([]).push('anything')).toBe('anything');
  });

  it('sends each text on its own when nothing is in flight, and a failed send does not stop the next', async () => {
    const sent: string[] = [];
    const r = progressReporter(async (p) => {
      sent.push(p.message ?? '');
      if (sent.length === 1) throw new Error('the client went away');
    }, []);
    r.push('a', { kind: 'text', text: 'one' });
    await r.flushed();
    r.push('a', { kind: 'text', text: 'two' });
    await r.flushed();
    expect(sent).toEqual(['one', 'two']);
  });

  it('sends the first text at once and merges what follows within the interval; flushed sends it without waiting the interval out', async () => {
    const t = transport();
    // An interval no test outlasts: only flushed() can end the wait.
    const r = progressReporter(t.report, [], 3_600_000);
    r.push('w', { kind: 'text', text: 'a' });
    expect(t.sent).toEqual([{ progress: 1, message: 'a' }]);
    await t.deliver();
    r.push('w', { kind: 'text', text: 'b' });
    r.push('w', { kind: 'text', text: 'c' });
    for (let i = 0; i < 3; i++) await t.deliver();
    expect(t.sent).toHaveLength(1);
    const flushed = r.flushed();
    await t.deliver();
    await t.deliver();
    await flushed;
    expect(t.sent).toEqual([
      { progress: 1, message: 'a' },
      { progress: 2, message: 'bc' },
    ]);
  });
  it("says where a fallback's text begins, so the failed agent's discarded text does not run into its answer", async () => {
    const t = transport();
    const r = progressReporter(t.report, [], 0);
    r.push('primary', { kind: 'text', text: 'Primary partial text ' });
    await t.deliver();
    r.push('fallback', { kind: 'text', text: 'Fallback full answer' });
    const flushed = r.flushed();
    for (let i = 0; i < 3; i++) await t.deliver();
    await flushed;
    expect(t.sent.map((s) => s.message)).toEqual([
      'Primary partial text ',
      'agent primary stopped without an answer; agent fallback answers instead, from the start',
      'Fallback full answer',
    ]);
  });
});
