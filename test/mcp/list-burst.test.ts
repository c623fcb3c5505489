import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';

/**
 * A server that adds a tool, a resource and a prompt in one call announces three lists changed at
 * once. The hub reads each again: the reads overlap, and each must keep the others' news (a slower
 * one wrote back the whole copy it started from, and the new tool was lost for good). And what the
 * caller asks right after the call is answered from the new lists, as the server itself would.
 */
describe('lists a server changes together, read by the next request', () => {
  let h: RunningHub;
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    h = await startHub({ mcpServers: { fx: fixtureStdio() } });
    alice = await bearerClient(h.url, h.token, 'alice');
    bob = await bearerClient(h.url, (await h.hub.tokens.create({ user: 'bob' })).token, 'bob');
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await h?.stop();
  });

  it.each([1, 2, 3])(
    'round %i: the added tool, resource and prompt are listed and the tool is callable at once, for the caller and another user',
    async (round) => {
      const name = `burst${round}`;
      const added = await alice.callTool({ name: 'fx__add_all', arguments: { name } });
      expect(added.content).toEqual([{ type: 'text', text: `added ${name}` }]);
      // No wait: the caller's next requests, and another user's, see what the server now has.
      const [mine, theirs, resources, prompts] = await Promise.all([
        alice.callTool({ name: `fx__${name}`, arguments: {} }),
        bob.listTools(),
        bob.listResources(),
        alice.listPrompts(),
      ]);
      expect(mine.content).toEqual([{ type: 'text', text: `dynamic ${name}` }]);
      expect(theirs.tools.map((t) => t.name)).toContain(`fx__${name}`);
      expect(resources.resources.map((r) => r.uri)).toContain(`fixture://${name}`);
      expect(prompts.prompts.map((p) => p.name)).toContain(`fx__${name}`);
    },
  );
});
