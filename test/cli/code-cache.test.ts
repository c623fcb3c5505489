import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, tmpDir } from '../helpers/hub.js';

/**
 * `switchboard stdio` runs from dist/bundle/stdio.cjs compiled with V8's code cache
 * (servers/code-cache.ts): the first start writes the cache after its first tools/list answer,
 * later starts compile from it, and a cache V8 refuses is written again. Observed the way a
 * desktop client starts the hub (the 1.x SDK client over stdio), with the cache in a file of the
 * test's own (SWITCHBOARD_CODE_CACHE) and the hub's debug log naming what it found.
 */
describe('the stdio bundle and its code cache', () => {
  let dir: ReturnType<typeof tmpDir>;
  let config: string;
  let cache: string;

  beforeAll(() => {
    dir = tmpDir();
    config = join(dir.path, 'switchboard.config.json');
    cache = join(dir.path, 'stdio.cache');
    writeFileSync(config, JSON.stringify({ logLevel: 'debug', integrations: { sandbox: {} } }));
  });
  afterAll(() => dir?.remove());

  /** One start: the first list, then (when `waitForCache`) until the cache file exists. Answers what the hub logged about the cache. */
  async function start(env: Record<string, string>, waitForCache: boolean): Promise<{ tools: string[]; codeCache: string | undefined }> {
    const client = new ClientV1({ name: 'claude-desktop-like', version: '1.0.0' }, { capabilities: {} });
    const transport = new StdioClientTransportV1({
      command: process.execPath,
      args: [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir.path, 'data')],
      env: { ...(process.env as Record<string, string>), ...env },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    await client.connect(transport);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      if (waitForCache) await vi.waitFor(() => expect(existsSync(cache)).toBe(true), { timeout: 15_000, interval: 50 });
      // The log leaves in batches, up to 100 ms after a line.
      await vi.waitFor(() => expect(stderr).toContain('"codeCache"'), { timeout: 15_000, interval: 50 });
      const logged = stderr
        .split('\n')
        .filter((line) => line.includes('"codeCache"'))
        .map((line) => (JSON.parse(line) as { codeCache: string }).codeCache);
      return { tools, codeCache: logged[0] };
    } finally {
      await client.close();
    }
  }

  it('is written by the first start and compiled from by the next', async () => {
    const first = await start({ SWITCHBOARD_CODE_CACHE: cache }, true);
    expect(first.codeCache).toBe('absent');
    expect(first.tools).toContain('sandbox__whoami');
    const written = readFileSync(cache);
    expect(written.length).toBeGreaterThan(100_000);

    const second = await start({ SWITCHBOARD_CODE_CACHE: cache }, false);
    expect(second.codeCache).toBe('used');
    expect(second.tools).toEqual(first.tools);
    // A cache V8 took is not written again.
    expect(readFileSync(cache).equals(written)).toBe(true);
  });

  it('is written again when V8 refuses it, and the start goes on meanwhile', async () => {
    writeFileSync(cache, Buffer.alloc(4096, 7));
    const refused = await start({ SWITCHBOARD_CODE_CACHE: cache }, false);
    expect(refused.codeCache).toBe('rejected');
    expect(refused.tools).toContain('sandbox__whoami');
    await vi.waitFor(() => expect(readFileSync(cache).length).toBeGreaterThan(100_000), { timeout: 15_000, interval: 50 });

    expect((await start({ SWITCHBOARD_CODE_CACHE: cache }, false)).codeCache).toBe('used');
  });

  it('is neither read nor kept when others may write it, and is replaced by one of the owner alone', async () => {
    expect((await start({ SWITCHBOARD_CODE_CACHE: cache }, false)).codeCache).toBe('used');
    expect(statSync(cache).mode & 0o777).toBe(0o600);
    chmodSync(cache, 0o666);
    const r = await start({ SWITCHBOARD_CODE_CACHE: cache }, false);
    expect(r.codeCache).toBe('untrusted');
    expect(r.tools).toContain('sandbox__whoami');
    // Replaced (written aside and renamed over it), not read: the new file is the owner's alone again.
    await vi.waitFor(() => expect(statSync(cache).mode & 0o777).toBe(0o600), { timeout: 15_000, interval: 50 });
    expect((await start({ SWITCHBOARD_CODE_CACHE: cache }, false)).codeCache).toBe('used');
  });

  it('can be turned off, and the bundle then compiles from source', async () => {
    const r = await start({ SWITCHBOARD_CODE_CACHE: 'off' }, false);
    expect(r.codeCache).toBe('off');
    expect(r.tools).toContain('sandbox__whoami');
  });

  it('is ASCII alone, so Node reads it as a one-byte string (half the memory, faster to check against the cache)', () => {
    const bundle = readFileSync(join(CLI, '../../bundle/stdio.cjs'));
    const wide = bundle.findIndex((b) => b > 0x7f);
    expect(wide, wide < 0 ? '' : bundle.subarray(Math.max(0, wide - 60), wide + 20).toString('utf8')).toBe(-1);
  });
});
