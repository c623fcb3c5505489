/**
 * An agent's output schema with local references ($defs, a pointer into itself), listed and called
 * through the hub with the 1.x SDK client, which compiles every listed output schema (Ajv) and
 * refuses a call whose tool's schema does not compile. An async agent's schema is widened with the
 * task handle (`anyOf`); its references must still resolve from the listed schema's root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, connectClient, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const SB = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local', webhookSecret: 'whsec_refs_9c2e', retries: 0 } as const;
const WITH_REFS = {
  $defs: { text: { type: 'string', minLength: 1 } },
  type: 'object',
  properties: { reply: { $ref: '#/$defs/text' }, session_id: { $ref: '#/properties/reply' } },
  required: ['reply', 'session_id'],
};

describe('output schemas with local references', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub(
      {
        integrations: { sandbox: {} },
        agents: {
          later: { ...SB, mode: 'async', agentId: 'echo_v1', outputSchema: WITH_REFS, waitMs: 15_000 },
          now: { ...SB, agentId: 'echo_v1', outputSchema: WITH_REFS },
        },
      },
      { agents: { sleep: async () => {}, tasks: { pollMs: 100 } } },
    );
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('keeps the definitions at the listed root and points other references under anyOf/0', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const { tools } = await c.listPage();
      const later = tools.find((t) => t.name === 'agent__later')?.outputSchema as Record<string, unknown>;
      expect(later.$defs).toEqual(WITH_REFS.$defs);
      expect((later.anyOf as Record<string, unknown>[])[0]).toMatchObject({
        properties: { reply: { $ref: '#/$defs/text' }, session_id: { $ref: '#/anyOf/0/properties/reply' } },
      });
    } finally {
      await c.close();
    }
  });

  describe.each(CLIENT_KINDS)('%s client', (kind) => {
    let client: FaceClient;
    beforeAll(async () => {
      client = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
    });
    afterAll(async () => {
      await client?.close();
    });

    it.each(['later', 'now'])('lists the tools, then calls agent__%s and gets its structured answer', async (agent) => {
      // Listing is when the 1.x client compiles each output schema, and checks results against it.
      expect((await client.listPage()).tools.map((t) => t.name)).toContain(`agent__${agent}`);
      const r = await client.callTool(`agent__${agent}`, { input: `refs ${kind}` });
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toMatchObject({ reply: `echo: refs ${kind}` });
    });
  });
});
