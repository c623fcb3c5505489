/**
 * `switchboard users invite` prints a one-time sign-in link; pasted into the sign-in page an
 * OAuth client opens, it signs the user in (as that user, in that tenant) instead of a hub token,
 * once. A used or expired link, or one of another hub, is refused on the page with why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { runCli, startHub, type RunningHub } from '../helpers/hub.js';
import { Browser } from '../fakes/browser.js';
import { REDIRECT, authorizeUrl, formOf, initialize, pkce, register, signIn, tokenRequest } from '../auth/support.js';

const clock = manualClock(Date.now());
let h: RunningHub;
let base: string;
let clientId: string;
beforeAll(async () => {
  h = await startHub({ fixtures: { conformance: true } }, { clock });
  base = `http://127.0.0.1:${h.port}`;
  clientId = String((await register(base)).body['client_id']);
});
afterAll(() => h?.stop());

async function invite(...args: string[]): Promise<string> {
  const r = await runCli(['users', 'invite', ...args, '--data', h.dataDir], h.dataDir);
  expect(r).toMatchObject({ code: 0, stderr: expect.stringMatching(/A one-time sign-in link for \S+, valid until \S+Z\. Send it to the user privately:\n$/) });
  return r.stdout.trim();
}

/** The sign-in page's answer to pasting `what`: its status and text. */
async function paste(what: string): Promise<{ status: number; text: string }> {
  const browser = new Browser();
  let res = await browser.get(authorizeUrl(base, clientId, pkce()).href);
  res = await browser.get(new URL(res.headers.get('location')!, base).href);
  const form = formOf(await res.text());
  const answer = await browser.post(new URL(form.action, base).href, { csrf: form.csrf, token: what });
  return { status: answer.status, text: answer.status === 200 || answer.status === 401 ? await answer.text() : '' };
}

describe('users invite', () => {
  it('prints a link; pasted into the sign-in page it signs the user in, once, and the token works at /mcp as that user', async () => {
    const link = await invite('alice', '--tenant', 'acme');
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sign-in\/invite#sbi_[A-Za-z0-9_-]{43}$/);
    // Opening the link says how to use it and spends nothing (the code is in the fragment).
    // (The CLI names the configured port; this hub listens on another.)
    const opened = await fetch(`${base}${new URL(link).pathname}`);
    expect(opened.status).toBe(200);
    expect(await opened.text()).toContain('paste this whole link');

    const p = pkce();
    const { callback, pages } = await signIn(authorizeUrl(base, clientId, p), link);
    expect(pages[1]).toContain('<b>alice</b> (tenant acme)');
    const tokens = await tokenRequest(base, {
      grant_type: 'authorization_code',
      client_id: clientId,
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
    });
    expect(tokens.status).toBe(200);
    const session = await initialize(h.url, String(tokens.body['access_token']));
    expect(session.status).toBe(200);
    await session.body?.cancel();
    const grants = JSON.parse((await runCli(['clients', 'list', '--json', '--user', 'alice', '--data', h.dataDir], h.dataDir)).stdout);
    expect(grants).toEqual([expect.objectContaining({ tenant: 'acme', user: 'alice', clientId, signedInWith: { via: 'invite' } })]);

    // The same link again, in another browser: used.
    const again = await paste(link);
    expect(again.status).toBe(401);
    expect(again.text).toContain('That sign-in link was already used. Ask the hub operator for a new one.');
  });

  it('the code alone works as the link does', async () => {
    const code = (await invite('bob')).split('#')[1]!;
    const { pages } = await signIn(authorizeUrl(base, clientId, pkce()), code);
    expect(pages[1]).toContain('<b>bob</b>');
  });

  it('an expired link, or a made-up one, is refused with why; an unused link expires after --expires', async () => {
    const link = await invite('carol', '--expires', '1h');
    clock.set(Date.now() + 3_600_000 + 1000);
    try {
      const late = await paste(link);
      expect(late.status).toBe(401);
      expect(late.text).toContain('That sign-in link has expired. Ask the hub operator for a new one.');
    } finally {
      clock.set(Date.now());
    }
    const forged = await paste(`${base}/sign-in/invite#sbi_${'A'.repeat(43)}`);
    expect(forged.status).toBe(401);
    expect(forged.text).toContain('That is not a sign-in link of this hub.');
  });

  it('a bad user name or lifetime is an error naming it', async () => {
    const bad = await runCli(['users', 'invite', 'no/slash', '--data', h.dataDir], h.dataDir);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('"default/no/slash" is not a hub user name') });
    const long = await runCli(['users', 'invite', 'dan', '--expires', '31d', '--data', h.dataDir], h.dataDir);
    expect(long).toMatchObject({ code: 2, stderr: expect.stringContaining('an invite lives at most 30 days') });
  });
});
