/**
 * GET /authorize needs no credentials, so its pending requests must not grow the sandbox's database
 * without bound (issue 7 item 10): at most MAX_PENDING_PER_CLIENT open consent pages per client
 * (the oldest go first), and expired ones are pruned. Counted in the real SQLite file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PENDING_PER_CLIENT } from '../../servers/sandbox/store.js';
import { CLIENT, OTHER, type Harness, openConsent, pkce, startSandbox, submitConsent } from './harness.js';

describe('pending authorize requests stay bounded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-growth-'));
  const file = join(dir, 'sandbox.db');
  let h: Harness;
  let db: Database.Database;
  const pending = (client: string) => db.prepare('SELECT count(*) FROM sandbox_interactions WHERE client_id = ?').pluck().get(client);
  const params = (client = CLIENT) => ({
    response_type: 'code',
    client_id: client.id,
    redirect_uri: client.redirectUris[0],
    state: 's',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  });

  beforeAll(async () => {
    h = await startSandbox({ dbFile: file });
    db = new Database(file, { readonly: true });
  });
  afterAll(async () => {
    db?.close();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps at most ${MAX_PENDING_PER_CLIENT} per client, dropping the oldest; another client's are untouched`, async () => {
    const other = await openConsent(h, params(OTHER));
    const first = await openConsent(h, params());
    const flood = MAX_PENDING_PER_CLIENT + 50;
    let last = first;
    for (let i = 0; i < flood; i++) last = await openConsent(h, params());
    expect(pending(CLIENT.id)).toBe(MAX_PENDING_PER_CLIENT);
    expect(pending(OTHER.id)).toBe(1);

    const dropped = await submitConsent(h, first, { username: 'ada', decision: 'allow' });
    expect(dropped.status).toBe(400);
    expect(await dropped.text()).toContain('This sign-in request expired or was already used.');
    const newest = await submitConsent(h, last, { username: 'ada', decision: 'allow' });
    expect(newest.status).toBe(302);
    expect(new URL(newest.headers.get('location')!).searchParams.get('code')).toMatch(/^sbx_code/);
    const untouched = await submitConsent(h, other, { username: 'bea', decision: 'allow' });
    expect(untouched.status).toBe(302);
    expect(pending(CLIENT.id)).toBe(MAX_PENDING_PER_CLIENT - 1);
  });

  it('prunes expired requests on the next authorize request', async () => {
    h.clock.advance(10 * 60_000);
    await openConsent(h, params());
    expect(db.prepare('SELECT count(*) FROM sandbox_interactions').pluck().get()).toBe(1);
  });
});
