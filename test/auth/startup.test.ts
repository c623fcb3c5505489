/**
 * The authorization server costs nothing at start-up: oidc-provider (0.5–0.9 s of imports) is
 * loaded by the first request that needs it, never before, so `switchboard stdio`'s first
 * tools/list does not compete with it. The "Unsupported runtime" line the library prints on
 * Node 20 does not reach users' stderr; any other warning does.
 */
import { spawn } from 'node:child_process';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthServer } from '../../src/auth/server.js';
import { UNSUPPORTED_RUNTIME, importQuietly } from '../../src/auth/load.js';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { CLI, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';

describe('loading the library', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub();
  });
  afterAll(() => hub?.stop());

  it('an authorization server is built without loading it; the first request to one of its routes loads it', async () => {
    const as = await createAuthServer({
      store: hub.hub.store,
      vault: hub.hub.vault,
      clock: manualClock(Date.now()),
      log: silentLogger(),
      tokens: hub.hub.tokens,
      publicUrl: 'http://127.0.0.1:1',
    });
    const app = express();
    as.mount(app);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      // Built, mounted, and a hub token checked elsewhere: still not loaded.
      expect(as.loaded()).toBe(false);
      const port = (server.address() as { port: number }).port;
      const res = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ issuer: 'http://127.0.0.1:1' });
      expect(as.loaded()).toBe(true);
    } finally {
      server.close();
    }
  });

  it('drops exactly the runtime warning, plain or coloured, and nothing else; console.warn is restored', async () => {
    const seen: unknown[][] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => seen.push(args);
    try {
      const out = await importQuietly(async () => {
        console.warn(UNSUPPORTED_RUNTIME);
        console.warn(`\u001b[31;1m${UNSUPPORTED_RUNTIME}\u001b[0m`);
        console.warn(`${UNSUPPORTED_RUNTIME} (and more)`);
        console.warn('oidc-provider WARNING: something else');
        console.warn(UNSUPPORTED_RUNTIME, 'with a second argument');
        return 42;
      });
      expect(out).toBe(42);
      console.warn('after');
    } finally {
      console.warn = original;
    }
    expect(seen).toEqual([
      [`${UNSUPPORTED_RUNTIME} (and more)`],
      ['oidc-provider WARNING: something else'],
      [UNSUPPORTED_RUNTIME, 'with a second argument'],
      ['after'],
    ]);
  });
});

describe('switchboard serve', () => {
  it('serves the authorization server on first request without printing the runtime warning', async () => {
    const dir = tmpDir();
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', dir.path], {
      cwd: dir.path,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stdout}\n${stderr}`)), 30_000);
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          const m = /serving MCP at (\S+)/.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const res = await fetch(new URL('/.well-known/oauth-authorization-server', url));
      expect(res.status).toBe(200);
      await res.body?.cancel();
      expect(stderr).not.toContain('Unsupported runtime');
      expect(stderr + stdout).not.toContain('oidc-provider WARNING');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
      dir.remove();
    }
  }, 60_000);
});
