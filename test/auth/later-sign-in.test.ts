/**
 * A client the user signs in again (from another browser, or a day later when the browser's
 * sign-in session has ended: a desktop client whose refresh token lapsed) adds to the grant the
 * user already gave it, as the README says: `clients list` and /connect show the app once, and one
 * revocation ends every token of it. A sign-in with another hub token is vouched for by that token
 * alone, so it stays a grant of its own: revoking either token ends only what it signed in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Grants } from '../../src/auth/grants.js';
import { manualClock } from '../../src/clock.js';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, exchangeCode, initialize, pkce, register, signIn, type TokenSet } from './support.js';

let hub: RunningHub;
let base: string;
const clock = manualClock(Date.now());
beforeAll(async () => {
  hub = await startHub({}, { clock });
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

const grants = () => new Grants({ records: hub.hub.store.asRecords, vault: hub.hub.vault, clock });

/** One sign-in of the client in a browser of its own, as the user of `hubToken`. */
async function signInAgain(clientId: string, hubToken: string): Promise<TokenSet> {
  const p = pkce();
  const { callback } = await signIn(authorizeUrl(base, clientId, p), hubToken, { browser: new Browser() });
  const res = await exchangeCode(base, clientId, callback.searchParams.get('code')!, p.verifier);
  expect(res.status).toBe(200);
  return res.body as unknown as TokenSet;
}

const status = async (token: string) => {
  const res = await initialize(hub.url, token);
  await res.body?.cancel();
  return res.status;
};

describe('a client signed in again by the same user', () => {
  it('in another browser, with the same hub token: one grant, which one revocation ends', async () => {
    const clientId = String((await register(base, 'Desktop app')).body['client_id']);
    const first = await signInAgain(clientId, hub.token);
    const second = await signInAgain(clientId, hub.token);

    const listed = await grants().list({ clientId });
    expect(listed.map((g) => [g.user, g.scopes])).toEqual([['alice', ['mcp']]]);
    expect([await status(first.access_token), await status(second.access_token)]).toEqual([200, 200]);

    expect(await grants().revoke(listed[0]!.grantId)).toBe(true);
    expect([await status(first.access_token), await status(second.access_token)]).toEqual([401, 401]);
  });

  it('with another hub token: a grant of its own, ended by that token alone', async () => {
    const clientId = String((await register(base, 'Laptop app')).body['client_id']);
    const other = await hub.hub.tokens.create({ user: 'alice' });
    const first = await signInAgain(clientId, hub.token);
    const second = await signInAgain(clientId, other.token);
    expect(await grants().list({ clientId })).toHaveLength(2);

    await hub.hub.tokens.revoke(other.record.id);
    expect([await status(first.access_token), await status(second.access_token)]).toEqual([200, 401]);
  });
});
