import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ROOT, eventually, fixtureHttp, fixtureStdio, startHub, type RunningFixture, type RunningHub } from '../helpers/hub.js';

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

describe('hub with a Streamable HTTP downstream', () => {
  let h: RunningHub;
  let fx: RunningFixture;
  beforeAll(async () => {
    fx = await fixtureHttp();
    h = await startHub({ mcpServers: { web: { url: fx.url } } });
  });
  afterAll(async () => {
    await h.stop();
    await fx.stop();
  });

  it('lists, calls with progress, and hears list_changed through the HTTP client', async () => {
    const changed: string[] = [];
    const client = new Client(
      { name: 'smoke', version: '1' },
      { versionNegotiation: { mode: 'legacy' }, listChanged: { tools: { onChanged: (_e, tools) => changed.push(...(tools ?? []).map((t) => t.name)) } } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${h.token}` } } }));
    expect(h.hub.catalog.source('web')?.status().protocolVersion).toBe('2026-07-28');
    const progress: number[] = [];
    const r = await client.callTool({ name: 'web__progress', arguments: { steps: 3, delayMs: 20 } }, { onprogress: (p) => progress.push(p.progress) });
    expect(r.content).toEqual([{ type: 'text', text: 'done 3' }]);
    expect(progress).toEqual([1, 2, 3]);
    await client.callTool({ name: 'web__add_tool', arguments: { name: 'late' } });
    await eventually(() => changed.includes('web__late'));
    expect((await client.callTool({ name: 'web__late', arguments: {} })).content).toEqual([{ type: 'text', text: 'dynamic late' }]);
    await client.close();
  });
});

describe('a 2025-era stdio server that ignores the version probe', () => {
  let h: RunningHub;
  beforeAll(async () => {
    h = await startHub({ mcpServers: { quiet: { command: process.execPath, args: [join(ROOT, 'dist/test/fixtures/probe-silent-server.js')] } } });
  });
  afterAll(async () => h.stop());

  it('is reached with the plain 2025 handshake after the probe times out', async () => {
    expect(h.hub.catalog.source('quiet')?.status()).toMatchObject({ state: 'ready', protocolVersion: '2025-06-18' });
    const client = new Client({ name: 'smoke', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${h.token}` } } }));
    expect((await client.callTool({ name: 'quiet__ping', arguments: {} })).content).toEqual([{ type: 'text', text: 'pong' }]);
    await client.close();
  });
});
