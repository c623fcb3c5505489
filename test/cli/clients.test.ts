/**
 * `switchboard clients` and `tokens list --oauth` on a data dir: empty lists say so, a grant is
 * listed with its user, client, scopes, creation and use, and revoking an unknown client or grant
 * is an error naming it (ending grants and closing sessions: test/auth/revoke-grants.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obtainTokens } from '../auth/support.js';
import { runCli, startHub, type RunningHub } from '../helpers/hub.js';

let h: RunningHub;
const cli = (...args: string[]) => runCli([...args, '--data', h.dataDir], h.dataDir);
beforeAll(async () => {
  h = await startHub();
});
afterAll(() => h?.stop());

describe('switchboard clients', () => {
  it('lists nothing before any sign-in; then one line per grant; --user filters; unknown ids are errors', async () => {
    expect(await cli('clients', 'list')).toMatchObject({ code: 0, stdout: 'no authorized clients\n' });
    expect(await cli('tokens', 'list', '--oauth')).toMatchObject({ code: 0, stdout: 'no OAuth grants\n' });

    const alice = await h.hub.tokens.create({ user: 'alice' });
    const { clientId } = await obtainTokens(`http://127.0.0.1:${h.port}`, alice.token);
    const listed = await cli('clients', 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`^\\S+  default/alice  client=${clientId}  "Test client"  scopes=mcp  created=\\d{4}-\\S+Z  last-used=never  via=${alice.record.id}\\n$`),
    );
    expect((await cli('tokens', 'list', '--oauth')).stdout).toBe(listed.stdout);
    expect(await cli('clients', 'list', '--user', 'bob')).toMatchObject({ code: 0, stdout: 'no authorized clients\n' });

    expect(await cli('clients', 'revoke', '--grant', 'no-such-grant')).toMatchObject({ code: 1, stderr: expect.stringContaining('no grant no-such-grant') });
    // An unknown client fails as `tokens revoke` of an unknown token does, and says nothing was refused.
    const unknown = await cli('clients', 'revoke', 'https://unknown.example/client.json');
    expect(unknown).toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringContaining('no registered client or grant of https://unknown.example/client.json'),
    });
    expect(unknown.stderr).not.toContain('refuse its tokens');
    expect(await cli('clients', 'revoke', 'sbc_doesnotexist')).toMatchObject({ code: 1, stderr: expect.stringContaining('(not_found)') });
    expect(await cli('clients', 'revoke')).toMatchObject({ code: 2, stderr: expect.stringContaining('clients revoke needs a client id or --grant') });
    // The grant is untouched by the failed attempts.
    expect((await cli('clients', 'list')).stdout).toBe(listed.stdout);

    // Revoking forgets the registration: a second revoke finds nothing, as a second `tokens revoke` does.
    expect(await cli('clients', 'revoke', clientId)).toMatchObject({ code: 0, stdout: `revoked 1 grant of ${clientId}\n` });
    expect(await cli('clients', 'revoke', clientId)).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining('revoked already') });
    expect(await cli('clients', 'list')).toMatchObject({ code: 0, stdout: 'no authorized clients\n' });
  });
});
