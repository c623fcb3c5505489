import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tmpDir } from '../helpers/hub.js';
import { modernEnvelope, rawModernCall } from '../helpers/raw-mcp.js';
import { createToken, serve, type ServeProcess } from '../oauth/support.js';

/**
 * A 2026-07-28 client's call to a 2025-era downstream is held open in the process that started it
 * while the client answers. A retry that reaches another process on the same data dir (a `stdio`
 * beside a `serve`, later replicas) is answered at once with an error saying so, never a hang.
 */
const ASKING = join(ROOT, 'dist/test/fixtures/asking-server.js');

/** A raw 2026-07-28 tools/call, as any client of that era sends it; its result or a failure. */
async function call(url: string, token: string, params: Record<string, unknown> & { name: string }): Promise<Record<string, unknown>> {
  const reply = await rawModernCall(url, token, { ...params, _meta: modernEnvelope({ elicitation: { form: {} }, sampling: {} }) });
  if (!reply.result) throw new Error(`no result: ${JSON.stringify(reply)}`);
  return reply.result;
}

describe('a held call answered in another process', () => {
  let dir: ReturnType<typeof tmpDir>;
  let downstream: ChildProcess;
  let a: ServeProcess;
  let b: ServeProcess;
  let token: string;

  beforeAll(async () => {
    dir = tmpDir();
    downstream = spawn(process.execPath, [ASKING, '--v1-http'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((res) =>
      createInterface({ input: downstream.stdout! }).once('line', (l) => res((JSON.parse(l) as { port: number }).port)),
    );
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { v1h: { url: `http://127.0.0.1:${port}/mcp` } } }));
    const data = join(dir.path, 'data');
    mkdirSync(data);
    token = await createToken(config, data, 'alice');
    a = await serve(config, data);
    b = await serve(config, data);
  });

  afterAll(async () => {
    await a?.kill();
    await b?.kill();
    downstream?.kill('SIGTERM');
    dir?.remove();
  });

  it('is resumed where it is held, and refused with a clear error elsewhere', async () => {
    const first = await call(a.url, token, { name: 'v1h__transfer', arguments: { account: 'A-1' } });
    expect(first).toMatchObject({ resultType: 'input_required' });
    const requests = first['inputRequests'] as Record<string, { method: string; params: { message?: string } }>;
    const [key, request] = Object.entries(requests)[0]!;
    expect(request).toMatchObject({ method: 'elicitation/create', params: { message: 'Confirm transfer for A-1' } });

    // The answer sent to the other process: told where the call waits, at once.
    const answer = { [key]: { action: 'accept', content: { who: 'alice' } } };
    const elsewhere = await call(b.url, token, {
      name: 'v1h__transfer',
      arguments: { account: 'A-1' },
      inputResponses: answer,
      requestState: first['requestState'],
    });
    expect(elsewhere['isError']).toBe(true);
    expect(JSON.stringify(elsewhere['content'])).toContain('another Switchboard process');

    // The same answer sent where the call is held goes on to the next question.
    const second = await call(a.url, token, {
      name: 'v1h__transfer',
      arguments: { account: 'A-1' },
      inputResponses: answer,
      requestState: first['requestState'],
    });
    expect(second).toMatchObject({ resultType: 'input_required' });
    const [key2, request2] = Object.entries(second['inputRequests'] as Record<string, { method: string }>)[0]!;
    expect(request2.method).toBe('sampling/createMessage');
    const done = await call(a.url, token, {
      name: 'v1h__transfer',
      arguments: { account: 'A-1' },
      inputResponses: { [key2]: { role: 'assistant', model: 'm', content: { type: 'text', text: 'ok' } } },
      requestState: second['requestState'],
    });
    expect(done['content']).toEqual([{ type: 'text', text: JSON.stringify({ account: 'A-1', who: 'alice', sampled: 'ok' }) }]);
  });
});
