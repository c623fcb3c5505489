/**
 * A grant signed in with a hub token made to expire (`tokens create --expires`) ends when that
 * token expires, as it does when the token is revoked: its access tokens are refused at /mcp, its
 * refresh token mints no more (and is not spent), and its open sessions and streams close.
 * Checked at use on the hub's clock; a grant signed in with a lasting token carries on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { ping, rawSessionWithStream } from '../helpers/raw-mcp.js';
import { initialize, obtainTokens, tokenRequest } from './support.js';

describe('a grant signed in with an expiring hub token', () => {
  const clock = manualClock(Date.now());
  let hub: RunningHub;
  let base: string;
  beforeAll(async () => {
    hub = await startHub({}, { clock });
    base = `http://127.0.0.1:${hub.port}`;
  });
  afterAll(() => hub?.stop());

  const refresh = (clientId: string, refreshToken: string) =>
    tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken, resource: `${base}/mcp` });

  it('ends when the token expires: access refused, refresh refused, sessions closed; a lasting token’s grant carries on', async () => {
    const short = (await hub.hub.tokens.create({ user: 'carol', expiresInMs: 60_000 })).token;
    const lasting = (await hub.hub.tokens.create({ user: 'bob' })).token;
    // Two clients carol signed in with the short token: one holds a session open, one is idle.
    const open = await obtainTokens(base, short);
    const idle = await obtainTokens(base, short);
    const bobs = await obtainTokens(base, lasting);
    const session = await rawSessionWithStream(hub.url, open.tokens.access_token);
    expect((await initialize(hub.url, idle.tokens.access_token)).status).toBe(200);

    clock.advance(61_000);
    // The access tokens themselves live an hour: what ended is the credential that vouched for carol.
    const idleAccess = await initialize(hub.url, idle.tokens.access_token);
    expect(idleAccess.status).toBe(401);
    expect(idleAccess.headers.get('www-authenticate')).toContain('invalid_token');
    expect(await refresh(idle.clientId, idle.tokens.refresh_token!)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The open session's stream closes on the hub's next look at what it holds open, and the session answers 401.
    expect(await session.ended).toBe('ended');
    expect(await ping(hub.url, open.tokens.access_token, session.sessionId)).toMatchObject({ status: 401 });
    expect((await refresh(open.clientId, open.tokens.refresh_token!)).status).toBe(400);

    expect((await initialize(hub.url, bobs.tokens.access_token)).status).toBe(200);
    const renewed = await refresh(bobs.clientId, bobs.tokens.refresh_token!);
    expect(renewed.status).toBe(200);
    expect((await initialize(hub.url, String(renewed.body['access_token']))).status).toBe(200);
  });

  it('is refused at /token the moment the token expires, before any session or poll has seen it', async () => {
    const short = (await hub.hub.tokens.create({ user: 'carol', expiresInMs: 60_000 })).token;
    const g = await obtainTokens(base, short);
    clock.advance(59_000);
    const before = await refresh(g.clientId, g.tokens.refresh_token!);
    expect(before.status).toBe(200);
    clock.advance(2_000);
    expect(await refresh(g.clientId, String(before.body['refresh_token']))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await initialize(hub.url, String(before.body['access_token']))).status).toBe(401);
  });
});
