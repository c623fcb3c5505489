/**
 * The sign-in page is public: a wrong hub token, an unknown or spent sign-in link, or a form posted
 * from elsewhere is refused there, and logged as every refused request is (README, HTTP routes): at
 * its code's level, with why, at most 20 lines a minute per code; never with what was pasted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { authorizeUrl, formOf, pkce, register } from './support.js';

let hub: RunningHub;
let base: string;
let clientId: string;
const lines: string[] = [];
beforeAll(async () => {
  hub = await startHub({}, { log: capturedLogger(lines, 'info') });
  base = `http://127.0.0.1:${hub.port}`;
  clientId = String((await register(base)).body['client_id']);
});
afterAll(() => hub?.stop());

const line = z.looseObject({ level: z.number(), msg: z.string(), code: z.string().optional(), why: z.string().optional(), clientId: z.string().optional() });
const refusals = () =>
  lines
    .map((l) => line.parse(JSON.parse(l)))
    .filter((l) => l.msg === 'sign-in refused')
    .map(({ level, code, why, clientId: client, path }) => ({ level, code, why, clientId: client, path }));

/** Pastes `what` into a fresh sign-in page; resolves the status of the answer. */
async function paste(what: string, csrf?: string): Promise<number> {
  const browser = new Browser();
  let res = await browser.get(authorizeUrl(base, clientId, pkce()).href);
  res = await browser.get(new URL(res.headers.get('location')!, base).href);
  const form = formOf(await res.text());
  const answer = await browser.post(new URL(form.action, base).href, { csrf: csrf ?? form.csrf, token: what });
  await answer.body?.cancel();
  return answer.status;
}

describe('refused sign-ins', () => {
  it('are logged with why, at info, never with what was pasted; past 20 a minute they are counted, not logged', async () => {
    const wrongToken = `sbt_${'A'.repeat(43)}`;
    const unknownLink = `${base}/sign-in/invite#sbi_${'B'.repeat(43)}`;
    expect(await paste(wrongToken)).toBe(401);
    expect(await paste(unknownLink)).toBe(401);
    expect(await paste(hub.token, 'forged')).toBe(403);
    const path = '/sign-in/:uid/login';
    expect(refusals()).toEqual([
      { level: 30, code: 'unauthorized', why: 'That is not a valid hub token (unknown or revoked).', clientId, path },
      { level: 30, code: 'unauthorized', why: 'That is not a sign-in link of this hub.', clientId, path },
      { level: 30, code: 'forbidden', why: 'form not sent from its own page', clientId: undefined, path },
    ]);
    for (const secret of ['A'.repeat(43), 'B'.repeat(43), hub.token]) expect(lines.join('\n')).not.toContain(secret);

    // Someone trying tokens at the page: 25 more refusals, 20 lines of the code in all this minute.
    for (let i = 0; i < 25; i++) expect(await paste(`sbt_${String(i).padStart(43, 'C')}`)).toBe(401);
    expect(refusals().filter((l) => l.code === 'unauthorized')).toHaveLength(20);
  });
});
