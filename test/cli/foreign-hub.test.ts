import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, eventually, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';
import { runCliEnv } from './run-env.js';

/** A `switchboard stdio` on `data` whose HTTP port is `port`, driven by the 1.x SDK client. */
async function stdioHub(data: string, port: number, more: string[] = []): Promise<{ client: Client; stderr: () => string; close: () => Promise<void> }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'stdio', '--data', data, '--port', String(port), ...more],
    cwd: '/',
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const client = new Client({ name: 'foreign-hub-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}

async function linkText(client: Client): Promise<string> {
  const r = await client.callTool({ name: 'sandbox__list_tickets', arguments: {} });
  const content = r.content as { type: string; text: string }[];
  expect(r.isError).toBe(true);
  return content.map((c) => c.text).join('\n');
}

describe('two hubs on one port with different data dirs', () => {
  let serve: RunningHub;
  let other: ReturnType<typeof tmpDir>;
  beforeAll(async () => {
    serve = await startHub({ integrations: { sandbox: {} } });
    other = tmpDir('switchboard-other-');
  });
  afterAll(async () => {
    await serve.stop();
    other.remove();
  });

  it('/healthz names the link-signing key id and, on loopback, the data dir', async () => {
    const res = await fetch(`http://127.0.0.1:${serve.port}/healthz`);
    expect(await res.json()).toEqual({ status: 'ok', hub: { linkKeyId: serve.hub.integrations.links.keyId(), dataDir: serve.dataDir } });
    expect(serve.hub.integrations.links.keyId()).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('a stdio hub on another data dir warns on stderr and next to the link, naming both data dirs', { timeout: 30_000 }, async () => {
    const data = join(other.path, 'data');
    const hub = await stdioHub(data, serve.port);
    try {
      const warning = `Warning: the hub at http://127.0.0.1:${serve.port} will reject this link as from another hub: it runs on another data dir (${serve.dataDir}) than this one (${data}).`;
      await eventually(() => hub.stderr().includes(warning) || undefined);
      const text = await linkText(hub.client);
      expect(text).toContain(`http://127.0.0.1:${serve.port}/oauth/sandbox/start?link=`);
      expect(text).toContain(`\n${warning} Stop one of them, or start both with the same --data or dataDir.`);
    } finally {
      await hub.close();
    }
  });

  it('a stdio hub on the same data dir hands out links without a warning', { timeout: 30_000 }, async () => {
    const hub = await stdioHub(serve.dataDir, serve.port);
    try {
      // The stdio face starts listening ~300 ms in; the port is taken, and the holder has the same key.
      await eventually(() => hub.stderr().includes('HTTP port busy') || hub.stderr().includes('EADDRINUSE') || undefined);
      const text = await linkText(hub.client);
      expect(text).toMatch(
        /^Link your Sandbox Tickets account to use this tool\. Open this link, approve access, then call the tool again: http:\/\/127\.0\.0\.1:\d+\/oauth\/sandbox\/start\?link=[\w.-]+$/,
      );
    } finally {
      await hub.close();
    }
  });

  it('`connect`, `serve` and `doctor` on another data dir say whose port it is', { timeout: 60_000 }, async () => {
    const data = join(other.path, 'data');
    const env = { XDG_DATA_HOME: join(other.path, 'xdg') };
    const connect = await runCliEnv(['connect', 'sandbox', '--data', data, '--port', String(serve.port), '--no-wait'], other.path, env);
    expect(connect.code).toBe(0);
    expect(connect.stdout).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${serve.port}/oauth/sandbox/start\\?link=[\\w.-]+\\n$`));
    expect(connect.stderr).toContain(
      `Warning: the hub at http://127.0.0.1:${serve.port} will reject this link as from another hub: it runs on another data dir (${serve.dataDir}) than this one (${data}). Stop one of them, or start both with the same --data or dataDir.\n`,
    );

    const served = await runCliEnv(['serve', '--data', data, '--port', String(serve.port)], other.path, env);
    expect(served.code).toBe(1);
    expect(served.stderr).toContain(
      `switchboard: error (config_invalid): port ${serve.port} on 127.0.0.1 is in use by a Switchboard hub on another data dir (${serve.dataDir}; this one is ${data}): links from either would be rejected by the other; pass --port to pick another\n`,
    );
    const doctor = await runCliEnv(['doctor', '--data', data, '--port', String(serve.port)], other.path, env);
    expect(doctor.code).toBe(1);
    expect(doctor.stderr).toContain(
      `FAIL http: http://127.0.0.1:${serve.port} is a hub on another data dir (${serve.dataDir}); it rejects links from this one (${data})\n`,
    );
    const doctorSame = await runCliEnv(['doctor', '--data', serve.dataDir, '--port', String(serve.port)], other.path, env);
    expect(doctorSame.stderr).toContain(`ok   http: http://127.0.0.1:${serve.port} is a hub on this data dir\n`);

    // A new data dir on a busy port: refused before anything is made there (no store, master key or admin token nobody saw).
    const fresh = join(other.path, 'fresh');
    const busy = await runCliEnv(['serve', '--data', fresh, '--port', String(serve.port)], other.path, env);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(
      `port ${serve.port} on 127.0.0.1 is in use by a Switchboard hub on another data dir (${serve.dataDir}; this one is ${fresh})`,
    );
    expect(existsSync(fresh)).toBe(false);

    const same = await runCliEnv(['serve', '--data', serve.dataDir, '--port', String(serve.port)], other.path, env);
    expect(same.stderr).toContain(
      `is in use by a Switchboard hub on this data dir (a \`stdio\` hub started by a client, perhaps): it already serves this store; pass --port to pick another\n`,
    );
  });
});

/** A port nothing listens on (bound by the OS, then let go). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('a stdio hub whose configured port does not lead to it', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeAll(() => {
    dir = tmpDir('switchboard-links-');
  });
  afterAll(() => dir.remove());

  it('another program holds the port: the stdio hub warns on stderr and next to the link that it will not open there', { timeout: 30_000 }, async () => {
    // Another dev server on the hub's port (which answers 404 to the hub's pages).
    const squatter = createServer((_req, res) => res.writeHead(404).end('Not Found'));
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as AddressInfo).port;
    const hub = await stdioHub(join(dir.path, 'squatted'), port);
    try {
      const warning = `Warning: something other than a Switchboard hub answers at http://127.0.0.1:${port} (another program holds its port), so this link will not open there.`;
      await eventually(() => hub.stderr().includes(warning) || undefined);
      expect(await linkText(hub.client)).toContain(`\n${warning} Stop that program, or give this hub another port`);
    } finally {
      await hub.close();
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });

  it('another program holds the port: an async agent call is refused before anything is sent, since its answer could not come back', {
    timeout: 30_000,
  }, async () => {
    const seen: string[] = [];
    const squatter = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(404).end('Not Found');
    });
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as AddressInfo).port;
    // Agents only, no integration: the hub still looks at what holds its port, for the callbacks.
    const data = join(dir.path, 'agents-only');
    const config = join(dir.path, 'agents-only.json');
    const later = {
      protocol: 'upagents',
      baseUrl: `http://127.0.0.1:${port}/v1`,
      apiKey: 'ua_agents_only_key',
      agentId: 'echo_v1',
      mode: 'async',
      webhookSecret: 'whsec_agents_only',
    };
    writeFileSync(config, JSON.stringify({ agents: { later } }));
    const hub = await stdioHub(data, port, ['--config', config]);
    try {
      await eventually(() => hub.stderr().includes('something other than a Switchboard hub answers') || undefined);
      const r = await hub.client.callTool({ name: 'agent__later', arguments: { input: 'hello' } });
      expect(r.isError).toBe(true);
      expect((r.content as { text: string }[])[0]!.text).toContain(
        `agent__later runs async, and its answer would come back to http://127.0.0.1:${port}, where it cannot reach this hub: something other than a Switchboard hub answers there`,
      );
      expect(r._meta?.['switchboard/error']).toMatchObject({ code: 'agent_not_configured', retryable: false });
      expect(seen.filter((line) => line.startsWith('POST /v1'))).toEqual([]);
    } finally {
      await hub.close();
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });

  it('a link asked for at once, before the stdio hub has bound its HTTP port, opens when opened at once', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const hub = await stdioHub(join(dir.path, 'early'), port);
    try {
      // The first call right after the handshake: the hub binds its port a moment later.
      const link = new RegExp(`http://127\\.0\\.0\\.1:${port}/oauth/sandbox/start\\?link=[\\w.-]+`).exec(await linkText(hub.client))?.[0];
      expect(link).toBeDefined();
      // HEAD, as link previews do: it does not spend the link, and it needs the port to answer.
      const opened = await fetch(link!, { method: 'HEAD', redirect: 'manual' });
      expect(opened.status).toBe(200);
    } finally {
      await hub.close();
    }
  });

  it('stdio --no-http beside a serve on another port of the same data dir: links point at the serve, and it opens them', { timeout: 60_000 }, async () => {
    const data = join(dir.path, 'shared');
    const serve = spawn(process.execPath, [CLI, 'serve', '--data', data, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    serve.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    serve.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    try {
      const mcp = await eventually(() => /serving MCP at (http:\/\/\S+)\/mcp/.exec(output)?.[1], 30_000);
      const hub = await stdioHub(data, await freePort(), ['--no-http']);
      try {
        await eventually(() => hub.stderr().includes('account links point at the hub serving this data dir') || undefined, 10_000);
        const text = await linkText(hub.client);
        const link = new RegExp(`${mcp.replace(/[.:/]/g, '\\$&')}/oauth/sandbox/start\\?link=[\\w.-]+`).exec(text)?.[0];
        expect(link).toBeDefined();
        // The serve takes it as its own (a link from another data dir would be refused there).
        const opened = await fetch(link!, { redirect: 'manual' });
        expect(opened.status).toBeLessThan(400);
      } finally {
        await hub.close();
      }
    } finally {
      serve.kill('SIGTERM');
    }
  });
});
