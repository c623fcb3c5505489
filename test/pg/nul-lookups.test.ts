import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tmpDir } from '../helpers/hub.js';
import { describePg, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { modernEnvelope, modernHeaders, rawModernCall } from '../helpers/raw-mcp.js';
import { runCommand, serveProcess, sharedMasterKey, type Serving } from './hub-support.js';

/**
 * An id a client names that holds a NUL character (U+0000) on a PostgreSQL store. PostgreSQL's
 * text cannot hold NUL, so such an id names nothing stored, and is answered as any unknown id is
 * on SQLite: tasks/get and tasks/cancel say the task is not found (-32602), queue__job_status that
 * no such job is known, recent_events finds no event of that type. It was a database error
 * instead: HTTP 500 on the task methods, a retryable store_failed in the tools, logged as an error.
 */
const TASKS = { extensions: { 'io.modelcontextprotocol/tasks': {} } };
/** SEP-2243: a name outside visible ASCII travels base64-encoded in Mcp-Name. */
const encodedName = (name: string) => `=?base64?${Buffer.from(name, 'utf8').toString('base64')}?=`;

describePg('ids holding a NUL character on PostgreSQL', () => {
  let db: FreshDatabase;
  let dir: ReturnType<typeof tmpDir>;
  let hub: Serving;
  let token: string;

  beforeAll(async () => {
    db = await freshDatabase();
    dir = tmpDir('switchboard-pg-nul-');
    const env = { DATABASE_URL: db.url, SWITCHBOARD_MASTER_KEY: sharedMasterKey() };
    // No config file in the cwd: the embedded defaults (the sandbox, whose writes bring queue__job_status).
    hub = await serveProcess(['--data', join(dir.path, 'hub-data')], dir.path, env);
    const made = await runCommand(['tokens', 'create', '--user', 'alice', '--data', join(dir.path, 'cli-data')], dir.path, env);
    expect(made.code, made.stderr).toBe(0);
    token = made.stdout.trim();
  });

  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
    dir?.remove();
  });

  async function taskRequest(method: string, taskId: string): Promise<{ status: number; body: { error?: { code: number; data?: unknown } } }> {
    const res = await fetch(hub.url, {
      method: 'POST',
      headers: modernHeaders(token, method, encodedName(taskId)),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { taskId, _meta: modernEnvelope(TASKS) } }),
    });
    return { status: res.status, body: (await res.json()) as { error?: { code: number; data?: unknown } } };
  }

  it('tasks/get and tasks/cancel answer "task not found", as for any unknown id', async () => {
    for (const method of ['tasks/get', 'tasks/cancel']) {
      const unknown = await taskRequest(method, 'task-unknown');
      expect(unknown.body.error).toMatchObject({ code: -32602, data: { code: 'task_not_found' } });
      const nul = await taskRequest(method, 'task\u0000x');
      expect({ method, status: nul.status, error: nul.body.error }).toEqual({ method, status: unknown.status, error: unknown.body.error });
    }
  });

  it('queue__job_status says no such job is known, not that the store failed', async () => {
    const r = await rawModernCall(hub.url, token, { name: 'queue__job_status', arguments: { jobId: 'job_\u0000x' } });
    expect(r.result?._meta).toMatchObject({ 'switchboard/error': { code: 'not_found', retryable: false } });
    expect(JSON.stringify(r.result?.content)).toMatch(/No job job_.*x of yours is known/);
  });

  it('recent_events with such a type answers as for a type nothing has', async () => {
    const plain = await rawModernCall(hub.url, token, { name: 'sandbox__recent_events', arguments: { type: 'none.such' } });
    const nul = await rawModernCall(hub.url, token, { name: 'sandbox__recent_events', arguments: { type: 'none\u0000such' } });
    expect(nul.result?._meta).toEqual(plain.result?._meta);
    expect(JSON.stringify(nul.result?._meta)).not.toMatch(/store_failed/);
  });

  it('none of them was logged as a database failure', () => {
    expect(hub.output()).not.toMatch(/invalid byte sequence|store_failed/);
  });
});
