import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/hub.js';
import { serveProcess } from '../helpers/serve-process.js';
import { modernEnvelope, type RawReply, rawModernCall } from '../helpers/raw-mcp.js';
import { taskClient } from '../mcp/tasks-helpers.js';
import { startServePair, type ServePair } from './serve-pair.js';

/**
 * Two `serve` processes on one data dir, as two replicas. B holds a 2026-07-28 client's round
 * with a 2025-era downstream and runs a downstream task; B is SIGKILLed and a new `serve` is
 * started on its port (an orchestrator restarting it under the same `server.internalUrl`) while
 * B's row still beats. A retry or task request reaching A is then answered as for a holder that
 * is gone, not by the new process as if another process still held the state.
 */
const ASKING = join(ROOT, 'dist/test/fixtures/asking-server.js');
const TASK_SERVER = join(ROOT, 'dist/test/fixtures/task-server.js');

/** `switchboard serve` on `port`; resolves once it serves. */
const serveOn = async (config: string, data: string, port: number): Promise<ChildProcess> => (await serveProcess(config, data, port)).child;

describe('a replica restarted under the same address', () => {
  let downstream: ChildProcess;
  let pair: ServePair;
  let restarted: ChildProcess | undefined;

  beforeAll(async () => {
    downstream = spawn(process.execPath, [ASKING, '--v1-http'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((res) =>
      createInterface({ input: downstream.stdout! }).once('line', (l) => res((JSON.parse(l) as { port: number }).port)),
    );
    pair = await startServePair({
      mcpServers: { v1h: { url: `http://127.0.0.1:${port}/mcp` }, ts: { command: process.execPath, args: [TASK_SERVER, '--stdio'] } },
    });
  }, 90_000);

  afterAll(async () => {
    if (restarted && restarted.exitCode === null) {
      const exited = new Promise((r) => restarted!.once('exit', r));
      restarted.kill('SIGTERM');
      await exited;
    }
    await pair?.stop();
    downstream?.kill('SIGTERM');
  });

  it('is not taken for the killed one: the retry is coded source_crashed and the task reads failed', { timeout: 60_000 }, async () => {
    const { a, b, alice, config, data } = pair;
    const envelope = modernEnvelope({ elicitation: { form: {} }, sampling: {} });
    const first: RawReply = await rawModernCall(b.url, alice, { name: 'v1h__transfer', arguments: { account: 'A-1' }, _meta: envelope });
    expect(first.result).toMatchObject({ resultType: 'input_required' });
    const [key] = Object.keys(first.result!['inputRequests'] as Record<string, unknown>);
    const task = String((await taskClient(b.url, alice).tool('ts__hold', { label: 'orphan' }))['taskId']);

    await b.kill('SIGKILL');
    restarted = await serveOn(config, data, b.port);

    const started = performance.now();
    const orphan = await rawModernCall(a.url, alice, {
      name: 'v1h__transfer',
      arguments: { account: 'A-1' },
      _meta: envelope,
      inputResponses: { [key!]: { action: 'accept', content: { who: 'alice' } } },
      requestState: String(first.result!['requestState']),
    });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(orphan.result).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: expect.stringContaining('which is no longer running, so it cannot be resumed') }],
      _meta: { 'switchboard/error': { code: 'source_crashed', retryable: true } },
    });
    expect(await taskClient(a.url, alice).ok('tasks/get', { taskId: task })).toMatchObject({
      status: 'failed',
      statusMessage: expect.stringContaining('The Switchboard process running this task on ts stopped'),
    });
  });
});
