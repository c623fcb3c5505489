/**
 * A new user's first minute (issue 10, "Sandbox marketplace"): the built CLI's `stdio` from a
 * folder without a config file and a fresh data dir, driven by a real MCP client over stdio. The
 * embedded defaults list an agent of every protocol and mode, served by the hub's own sandbox
 * marketplace, so each one answers offline: upagents sync, stream and async (its signed callback
 * comes back to the hub's HTTP listener), Kore sync with thoughts and Kore stream, and http.
 */
import type { Progress } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

describe('the default config: an agent of every protocol and mode, callable offline', () => {
  let dir: ReturnType<typeof tmpDir>;
  let c: FaceClient;

  beforeAll(async () => {
    dir = tmpDir();
    // The repository has no switchboard.config.json, so the embedded defaults are read.
    c = await connectClient('v2-auto', { transport: 'stdio', command: process.execPath, args: [CLI, 'stdio', '--data', `${dir.path}/data`, '--port', '0'] });
    // The sandbox marketplace is served on the hub's HTTP listener, which starts just after the handshake.
    await eventually(() => c.stderrTail().includes('also listening on HTTP'), 15_000, 50);
  });
  afterAll(async () => {
    await c?.close();
    dir?.remove();
  });

  const call = async (name: string, args: Record<string, unknown>) => {
    const progress: string[] = [];
    const r = await c.callTool(`agent__${name}`, args, { onprogress: (p: Progress) => void progress.push(p.message ?? '') });
    expect(r.isError, `${name}: ${JSON.stringify(r.content)}\n${c.stderrTail()}`).toBe(false);
    return { r, progress };
  };

  it('lists every default agent and agent__task_status', async () => {
    const { tools } = await c.listPage();
    expect(tools.map((t) => t.name).filter((n) => n.startsWith('agent__'))).toEqual([
      'agent__echo',
      'agent__support_triage',
      'agent__writer',
      'agent__echo_async',
      'agent__memory',
      'agent__storyteller',
      'agent__forecast',
      'agent__task_status',
    ]);
  });

  it('upagents sync and stream: an answer, and a streamed one as progress first', async () => {
    const echo = await call('echo', { input: 'hello' });
    expect(JSON.parse(textOf(echo.r))).toMatchObject({ reply: 'echo: hello', session_id: expect.stringMatching(/^sbs_/) });
    const triage = await call('support_triage', { ticket_subject: 'Refund', ticket_body: 'charged twice' });
    expect(triage.r.structuredContent).toMatchObject({ category: 'billing', priority: 'high' });
    const writer = await call('writer', { input: 'tides' });
    expect(textOf(writer.r)).toContain('Here is a short note on tides.');
    expect(writer.progress[0]).toBe('agent writer is calling the tool lookup');
    expect(writer.progress.slice(1).join('')).toBe(textOf(writer.r).slice(0, writer.progress.slice(1).join('').length));
  });

  it('upagents async: submitted, answered through the signed callback to this hub', async () => {
    const { r, progress } = await call('echo_async', { input: 'later' });
    expect(JSON.parse(textOf(r))).toMatchObject({ reply: 'echo: later' });
    expect(progress[0]).toMatch(/^agent echo_async took the task at_/);
  });

  it('kore sync with thoughts, and kore stream', async () => {
    await call('memory', { input: 'my name is Ada' });
    const second = await call('memory', { input: 'what is my name?' });
    expect(JSON.parse(textOf(second.r))).toMatchObject({ turn: 2, remembered: ['my name is Ada'] });
    // The SDK clients drop a progress notification read in the same chunk as its result
    // (modelcontextprotocol/typescript-sdk#2580), and a sync answer's thoughts go out just before it:
    // what arrives must be in order (test/agents/kore.test.ts sees each thought over HTTP).
    const thoughts = ['agent memory thinks: looking up the memory of session sbs_', 'agent memory thinks: 1 earlier messages found'];
    for (const [i, p] of second.progress.entries()) expect(p.startsWith(thoughts[i]!), p).toBe(true);
    const story = await call('storyteller', { input: 'a lamp' });
    expect(textOf(story.r)).toBe('Once there was a lamp. It travelled far. And it came home.');
    expect(story.progress.length).toBeGreaterThanOrEqual(1);
    // Messages that arrive within the progress interval of each other share a notification
    // (src/agents/progress.ts): in order and whole, from the start (the client may drop the last).
    expect('Once there was a lamp. It travelled far. And it came home.'.startsWith(story.progress.join(''))).toBe(true);
    expect(story.progress.join('')).toMatch(/^Once there was a lamp\. /);
  });

  it('http: the request built from the arguments, the answer mapped to the output schema', async () => {
    const { r } = await call('forecast', { city: 'Oslo', question: 'warm?', days: 2 });
    expect(r.structuredContent).toEqual({ city: 'Oslo', highs: [expect.any(Number), expect.any(Number)], summary: expect.stringContaining('Oslo: highs of') });
  });
});
