/**
 * `doctor` checks each agent as a call would meet it, without calling it: its host takes
 * connections (nothing is sent, so no task starts), and an async agent's answers can come back to
 * the hub (a public URL on loopback is one an agent elsewhere cannot post to).
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runCli, tmpDir } from '../helpers/hub.js';

const report = z.object({ ok: z.boolean(), checks: z.array(z.object({ ok: z.boolean(), line: z.string() })) });

async function listening(): Promise<{ server: Server; port: number; accepted: () => number; bytes: () => number }> {
  let accepted = 0;
  let bytes = 0;
  const server = createServer((s) => {
    accepted++;
    s.on('data', (d) => {
      bytes += d.length;
    });
    s.on('error', () => {});
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, accepted: () => accepted, bytes: () => bytes };
}

/** A port nothing listens on: bound, read, closed. */
async function closedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('doctor and the agents', () => {
  const dir = tmpDir();
  let up: Awaited<ReturnType<typeof listening>>;
  let down: number;
  beforeAll(async () => {
    up = await listening();
    down = await closedPort();
  });
  afterAll(() => {
    up?.server.close();
    dir.remove();
  });

  const write = (name: string, config: Record<string, unknown>) => {
    const file = join(dir.path, name);
    writeFileSync(file, JSON.stringify({ dataDir: join(dir.path, `data-${name}`), ...config }));
    return file;
  };
  const key = { apiKey: 'k-secret-1' };
  const secret = { webhookSecret: 'whsec_0123456789abcdef0123456789abcdef' };

  it('says which agents take connections, which cannot be reached, and which could not answer back, sending nothing', async () => {
    const file = write('agents.json', {
      agents: {
        near: { protocol: 'upagents', baseUrl: `http://127.0.0.1:${up.port}/v1`, agentId: 'a_v1', ...key },
        gone: { protocol: 'kore', url: `http://127.0.0.1:${down}/agents/helpdesk_v2`, fallback: 'near' },
        far: { protocol: 'upagents', baseUrl: 'https://agents.example.test/v1', agentId: 'a_v1', mode: 'async', ...key, ...secret },
        local: { protocol: 'kore', url: '/sandbox/kore/agents/helpdesk_v2' },
        off: { protocol: 'upagents', baseUrl: `http://127.0.0.1:${down}/v1`, agentId: 'a_v1', ...key, disabled: true },
      },
    });
    const r = await runCli(['doctor', '--json', '--config', file], dir.path);
    expect(r.code).toBe(1);
    const lines = Object.fromEntries(
      report
        .parse(JSON.parse(r.stdout))
        .checks.filter((c) => c.line.startsWith('agents.'))
        .map((c) => [c.line.split(':')[0], c]),
    );
    expect(lines['agents.near']).toEqual({
      ok: true,
      line: expect.stringMatching(new RegExp(`^agents\\.near: upagents sync, http://127\\.0\\.0\\.1:${up.port} takes connections \\(\\d+ ms\\)$`)),
    });
    expect(lines['agents.gone']).toEqual({
      ok: false,
      line: `agents.gone: cannot connect to http://127.0.0.1:${down}: ECONNREFUSED; its calls would fail over to its fallback`,
    });
    expect(lines['agents.far']!.ok).toBe(false);
    expect(lines['agents.far']!.line).toContain('runs async, and its answers come back to http://127.0.0.1:8787');
    expect(lines['agents.far']!.line).toContain('set server.publicUrl');
    expect(lines['agents.local']).toEqual({ ok: true, line: 'agents.local: kore sync, a path on this hub (/sandbox/kore/agents/helpdesk_v2)' });
    expect(lines['agents.off']).toEqual({ ok: true, line: 'agents.off: disabled' });
    expect(up.accepted()).toBeGreaterThan(0);
    expect(up.bytes()).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('k-secret-1');
  });

  it('goes on to the connection for an async agent whose answers come back to a public URL', async () => {
    const file = write('public.json', {
      server: { publicUrl: 'https://hub.example.test' },
      // No DNS here: the connection check fails within the agent's timeoutMs, past the callback check.
      agents: { far: { protocol: 'kore', url: 'https://agents.example.test/agents/helpdesk_v2', async: true, timeoutMs: 1_000, ...secret } },
    });
    const r = await runCli(['doctor', '--json', '--config', file], dir.path);
    const far = report.parse(JSON.parse(r.stdout)).checks.find((c) => c.line.startsWith('agents.far'));
    expect(far).toEqual({ ok: false, line: expect.stringMatching(/^agents\.far: cannot connect to https:\/\/agents\.example\.test: /) });
  });
});
