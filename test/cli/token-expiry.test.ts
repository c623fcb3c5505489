import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runCli, tmpDir } from '../helpers/hub.js';

const listed = z.array(
  z.object({
    id: z.string(),
    user: z.string(),
    scopes: z.array(z.string()),
    createdAt: z.number(),
    expiresAt: z.number().nullable(),
    state: z.enum(['active', 'expired', 'revoked']),
  }),
);

describe('tokens create --expires and --scopes', () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  beforeEach(() => {
    dir = tmpDir();
    data = join(dir.path, 'data');
  });
  afterEach(() => dir.remove());

  it('makes a token that expires after the given time, and list shows when', { timeout: 30_000 }, async () => {
    const created = await runCli(['tokens', 'create', '--user', 'alice', '--expires', '30d', '--scopes', 'mcp metrics', '--data', data], dir.path);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^sbt_[A-Za-z0-9_-]{43}\n$/);
    expect(created.stderr).toMatch(/Created tok_[0-9a-f]{12} for default\/alice with scopes mcp,metrics\. It expires \d{4}-\d\d-\d\dT[\d:.]+Z\./);
    const forever = await runCli(['tokens', 'create', '--user', 'bob', '--data', data], dir.path);
    expect(forever.code).toBe(0);

    const json = listed.parse(JSON.parse((await runCli(['tokens', 'list', '--json', '--data', data], dir.path)).stdout));
    expect(json.map((t) => [t.user, t.scopes])).toEqual([
      ['alice', ['mcp', 'metrics']],
      ['bob', ['mcp']],
    ]);
    expect(json[0]!.expiresAt! - json[0]!.createdAt).toBe(30 * 86_400_000);
    expect(json[1]!.expiresAt).toBeNull();
    expect(json.map((t) => t.state)).toEqual(['active', 'active']);
    // --user narrows the list to that user's tokens.
    const bobs = listed.parse(JSON.parse((await runCli(['tokens', 'list', '--json', '--user', 'bob', '--data', data], dir.path)).stdout));
    expect(bobs.map((t) => t.user)).toEqual(['bob']);

    const text = (await runCli(['tokens', 'list', '--data', data], dir.path)).stdout.split('\n');
    expect(text[0]).toContain(`expires=${new Date(json[0]!.expiresAt!).toISOString()}`);
    expect(text[0]).toMatch(/ {2}active$/);
    expect(text[1]).toContain('expires=never');
  });

  it('refuses a lifetime without a unit or with an unknown one, and an unknown scope, making no token', { timeout: 30_000 }, async () => {
    for (const bad of ['30', '30x', '0d', '1.5h', '1 d']) {
      const r = await runCli(['tokens', 'create', '--user', 'alice', '--expires', bad, '--data', data], dir.path);
      expect(r.code, bad).not.toBe(0);
      expect(r.stderr.split('\n').at(-2)).toBe(
        `switchboard: error (invalid_params): --expires ${bad}: use a whole number and a unit: s, m, h or d (30d, 12h, 90m)`,
      );
    }
    const scope = await runCli(['tokens', 'create', '--user', 'alice', '--scopes', 'mcp root', '--data', data], dir.path);
    expect(scope.code).not.toBe(0);
    expect(scope.stderr.split('\n').at(-2)).toBe('switchboard: error (invalid_params): scopes ["mcp","root"]: use one or more of mcp, metrics, admin');
    // Refused before the store is opened: not even the data dir is made (README, CLI).
    expect(existsSync(data)).toBe(false);
  });
});
