/**
 * A queued write run as an MCP Task whose account must be linked again (the API refused the token
 * with a 401 and the token endpoint refused the refresh): the task's result carries the link, coded
 * `connection_needs_reauth`, in the words a direct call answers with, where it failed with an
 * internal error naming the code and no link. No elicitation can reach the caller of a task, so the
 * result is the text form. A local API and token endpoint, a real hub, alice beside bob.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';
import { taskClient } from './tasks-helpers.js';

type Result = { content: Array<{ type: string; text: string }>; isError?: boolean; _meta?: Record<string, { code?: string }> };

describe('a queued write as an MCP Task whose account must be linked again', () => {
  let api: LocalApi;
  let hub: RunningHub;
  let bobToken: string;
  const written: string[] = [];

  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  beforeAll(async () => {
    api = await localApi((req, body, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      // Every refresh is refused: the grant was revoked at the provider.
      if (url.pathname === '/token') return json(res, 400, { error: 'invalid_grant', error_description: 'Token has been revoked' });
      if (req.headers.authorization !== 'Bearer at-alice') return json(res, 401, { message: 'Bad credentials' });
      written.push(body);
      return json(res, 201, { id: written.length });
    });
    hub = await startHub({
      integrations: {
        notes: {
          type: 'custom',
          title: 'Notes',
          apiBaseUrl: `${api.origin}/api`,
          oauth: { authorizeUrl: `${api.origin}/authorize`, tokenUrl: `${api.origin}/token`, clientId: 'c1', clientSecret: 's1' },
          tools: {
            create: {
              description: 'Creates a note',
              method: 'POST',
              path: '/notes',
              input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
            },
          },
        },
      },
      outbox: { waitMs: 30_000 },
    });
    const connections = hub.hub.integrations.accounts.connections;
    for (const user of ['alice', 'bob']) {
      await connections.link({
        tenant: 'default',
        user,
        integration: 'notes',
        tokens: { accessToken: `at-${user}`, refreshToken: `rt-${user}`, tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000 },
        scopes: [],
      });
    }
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterAll(async () => {
    await hub?.stop();
    await api?.close();
  });

  it("bob's task fails with the link to re-link his account; alice's write is done", async () => {
    const bob = taskClient(hub.url, bobToken);
    const alice = taskClient(hub.url, hub.token);
    const [bobTask, aliceTask] = await Promise.all([bob.tool('notes__create', { text: 'from bob' }), alice.tool('notes__create', { text: 'from alice' })]);
    expect(bobTask).toMatchObject({ resultType: 'task' });
    expect(aliceTask).toMatchObject({ resultType: 'task' });

    const bobDone = await bob.until(String(bobTask['taskId']), ['completed', 'failed', 'cancelled'], 20_000);
    // 2026-07-28: the call's own answer, an isError result, is a completed task (2025-11-25 clients read it as failed).
    expect(bobDone['status']).toBe('completed');
    const result = bobDone['result'] as Result;
    expect(result.isError).toBe(true);
    expect(result._meta?.['switchboard/error']?.code).toBe('connection_needs_reauth');
    expect(result.content[0]?.text).toMatch(
      /^Your Notes connection needs to be linked again \(.+\)\. Open this link to re-link it, then call the tool again: http:\/\/127\.0\.0\.1:\d+\/oauth\/notes\/start\?link=/,
    );
    expect(await hub.hub.integrations.accounts.connections.find('default', 'bob', 'notes')).toMatchObject({ state: 'needs_reauth' });

    const aliceDone = await alice.until(String(aliceTask['taskId']), ['completed', 'failed', 'cancelled'], 20_000);
    expect(aliceDone['status']).toBe('completed');
    expect(written).toEqual([JSON.stringify({ text: 'from alice' })]);
    expect(await hub.hub.integrations.accounts.connections.find('default', 'alice', 'notes')).toMatchObject({ state: 'active' });
  });
});
