/**
 * `tokens list --json` gives what the text list shows: the hub tokens, then the OAuth grants (one
 * array; `kind` tells them apart, so a reader of the tokens alone reads on), and every grant —
 * there, in `tokens list --oauth --json` and in `clients list --json` — with every key (null when
 * unset) and its state (README, CLI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainTokens } from '../auth/support.js';
import { runCli, startHub, type RunningHub } from '../helpers/hub.js';

let h: RunningHub;
const json = async (...args: string[]): Promise<unknown> => {
  const r = await runCli([...args, '--json', '--data', h.dataDir], h.dataDir);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
beforeAll(async () => {
  h = await startHub();
});
afterAll(() => h?.stop());

describe('tokens list --json with OAuth grants', () => {
  it('lists the tokens, then the grants with every key and a state; --oauth and clients list give the same grants; --user narrows both', {
    timeout: 60_000,
  }, async () => {
    const alice = await h.hub.tokens.create({ user: 'alice' });
    const { clientId } = await obtainTokens(`http://127.0.0.1:${h.port}`, alice.token);

    const all = (await json('tokens', 'list')) as Array<Record<string, unknown>>;
    const grant = {
      kind: 'oauth',
      grantId: expect.any(String),
      tenant: 'default',
      user: 'alice',
      clientId,
      clientName: 'Test client',
      scopes: ['mcp'],
      createdAt: expect.any(Number),
      expiresAt: expect.any(Number),
      lastUsedAt: null,
      signedInWith: { via: 'token', tokenId: alice.record.id },
      state: 'active',
    };
    // The hub tokens first (every key, null when unset), as before; then the grant.
    const ids = (await h.hub.tokens.list()).map((t) => t.id);
    expect(ids).toContain(alice.record.id);
    const token = (id: string) => expect.objectContaining({ kind: 'token', id, user: 'alice', expiresAt: null, revokedAt: null, state: 'active' });
    expect(all).toEqual([...ids.map(token), grant]);
    expect(Object.keys(all.at(-1)!)).toEqual(Object.keys(grant));

    expect(await json('tokens', 'list', '--oauth')).toEqual([grant]);
    expect(await json('clients', 'list')).toEqual([grant]);
    expect(await json('tokens', 'list', '--user', 'alice')).toEqual(all);
    expect(await json('tokens', 'list', '--user', 'nobody')).toEqual([]);
  });
});
