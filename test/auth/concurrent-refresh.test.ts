/**
 * One refresh token presented several times at once (a client's parallel retries, or a thief racing
 * the client): only one request may spend it. The others are reuse, and reuse ends the grant, the
 * winner's new tokens included (RFC 9700 §4.14.2). Between processes on one data dir the library's
 * check-then-mark is not enough; test/auth/adapter.test.ts covers the store's guarded consume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { hashId } from '../../src/auth/ids.js';
import { initialize, obtainTokens, tokenRequest } from './support.js';

let hub: RunningHub;
let base: string;
beforeAll(async () => {
  hub = await startHub();
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

describe('concurrent refreshes with one refresh token', () => {
  it('exactly one succeeds, the rest are invalid_grant, and the grant is then gone', async () => {
    const alice = (await hub.hub.tokens.create({ user: 'alice' })).token;
    const { clientId, tokens } = await obtainTokens(base, alice);
    const form = { grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token! };
    const answers = await Promise.all(Array.from({ length: 6 }, () => tokenRequest(base, form)));
    const won = answers.filter((a) => a.status === 200);
    expect(won).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) expect(a).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const winner = won[0]!.body;
    expect(await tokenRequest(base, { ...form, refresh_token: String(winner['refresh_token']) })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect((await initialize(hub.url, String(winner['access_token']))).status).toBe(401);
  });

  it('a token saved after reuse ended its grant is refused: the refresh that won on another replica', async () => {
    // On PostgreSQL the winner of two refreshes can save its new access token after the loser's
    // reuse detection deleted the grant's rows; the row is put back here as that late save would.
    const alice = (await hub.hub.tokens.create({ user: 'alice' })).token;
    const { tokens } = await obtainTokens(base, alice);
    const records = hub.hub.store.asRecords;
    const row = await records.find('AccessToken', hashId(tokens.access_token));
    expect(row?.grantId).toBeDefined();
    expect((await initialize(hub.url, tokens.access_token)).status).toBe(200);
    await records.revokeGrant(row!.grantId!);
    await records.upsert(row!);
    expect((await initialize(hub.url, tokens.access_token)).status).toBe(401);
  });
});
