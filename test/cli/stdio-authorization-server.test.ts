import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, eventually, runCli, tmpDir } from '../helpers/hub.js';
import { REDIRECT, authorizeUrl, initialize, pkce, register, signIn, tokenRequest } from '../auth/support.js';

/**
 * `switchboard stdio` (the desktop client's face) runs from the CommonJS bundle
 * (dist/bundle/stdio.cjs) and also listens on its HTTP port, where /mcp names the hub as its
 * authorization server: that server answers there as it does under `serve`. A remote MCP client
 * discovers it, registers, has the user sign in and consent, and uses the token at /mcp.
 */
describe("a stdio hub's authorization server", () => {
  let dir: ReturnType<typeof tmpDir>;
  let client: Client;
  let stderr = '';
  let base: string;
  let hubToken: string;
  beforeAll(async () => {
    dir = tmpDir('switchboard-stdio-as-');
    const data = join(dir.path, 'data');
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(config, JSON.stringify({ logLevel: 'debug', integrations: { sandbox: {} } }));
    const created = await runCli(['tokens', 'create', '--user', 'alice', '--config', config, '--data', data], dir.path);
    hubToken = /sbt_[A-Za-z0-9_-]+/.exec(created.stdout)?.[0] ?? '';
    expect(hubToken, created.stderr).not.toBe('');
    // A port the OS just gave out and took back, for the hub to listen on.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    base = `http://127.0.0.1:${port}`;
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'stdio', '--config', config, '--data', data, '--port', String(port)],
      cwd: dir.path,
      env: { ...(process.env as Record<string, string>), SWITCHBOARD_CODE_CACHE: join(dir.path, 'stdio.cache') },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    client = new Client({ name: 'desktop-like', version: '1.0.0' }, { capabilities: {} });
    await client.connect(transport);
    await eventually(async () => ((await fetch(`${base}/.well-known/oauth-protected-resource`).catch(() => undefined))?.ok ? true : undefined), 15_000);
  });
  afterAll(async () => {
    await client?.close();
    dir?.remove();
  });

  it('serves discovery, registration, sign-in and tokens that /mcp takes, from the bundle', { timeout: 30_000 }, async () => {
    // The bundle is what runs (the unbundled modules log nothing of a code cache).
    await eventually(() => stderr.includes('"codeCache"') || undefined);

    const resource = (await (await fetch(`${base}/.well-known/oauth-protected-resource`)).json()) as { authorization_servers: string[] };
    expect(resource.authorization_servers).toEqual([base]);
    const meta = await fetch(`${base}/.well-known/oauth-authorization-server`);
    expect(meta.status).toBe(200);
    expect(await meta.json()).toMatchObject({ issuer: base, registration_endpoint: `${base}/register`, token_endpoint: `${base}/token` });

    const registered = await register(base, 'Remote client of a stdio hub');
    expect(registered.status).toBe(201);
    const clientId = String(registered.body['client_id']);
    const p = pkce();
    const { callback } = await signIn(authorizeUrl(base, clientId, p), hubToken);
    const tokens = await tokenRequest(base, {
      grant_type: 'authorization_code',
      client_id: clientId,
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
    });
    expect(tokens.status).toBe(200);
    const mcp = await initialize(`${base}/mcp`, String(tokens.body['access_token']));
    expect(mcp.status).toBe(200);
    await mcp.body?.cancel();
    expect(stderr).not.toContain('unhandled error');
  });
});
