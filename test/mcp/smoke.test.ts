import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';

describe('hub over HTTP with a stdio downstream', () => {
  let h: RunningHub;
  beforeAll(async () => {
    h = await startHub({ mcpServers: { fx: fixtureStdio() } });
  });
  afterAll(async () => h.stop());

  for (const mode of ['auto', 'legacy'] as const) {
    it(`lists and calls through the hub (${mode})`, async () => {
      const client = new Client({ name: 'smoke', version: '1' }, { versionNegotiation: { mode } });
      await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${h.token}` } } }));
      expect(client.getNegotiatedProtocolVersion()).toBe(mode === 'auto' ? '2026-07-28' : '2025-11-25');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('fx__add');
      const result = await client.callTool({ name: 'fx__add', arguments: { a: 2, b: 40 } });
      expect(result.structuredContent).toEqual({ sum: 42 });
      expect(result.isError).toBeFalsy();
      await client.close();
    });
  }
});
