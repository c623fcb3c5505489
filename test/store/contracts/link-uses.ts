import { beforeEach, describe, expect, it } from 'vitest';
import type { ConnectSessions, LinkUses } from '../../../src/oauth/link-uses.js';
import type { LinkPayload } from '../../../src/oauth/links.js';

export interface LinkUsesHarness {
  uses: LinkUses;
  sessions: ConnectSessions;
  advance(ms: number): void;
  now(): number;
}

const link = (n: string, u: string, exp: number): LinkPayload => ({ v: 1, p: 'link', t: 'default', u, i: 'acme', exp, n });

export function linkUsesContract(name: string, make: () => LinkUsesHarness | Promise<LinkUsesHarness>): void {
  describe(`LinkUses and ConnectSessions contract: ${name}`, () => {
    let h: LinkUsesHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('a link is claimed by the first browser, spent once, by that browser only', async () => {
      const l = link('n1', 'alice', h.now() + 60_000);
      expect(await h.uses.claim(l, 'browser-1')).toBe('ok');
      expect(await h.uses.claim(l, 'browser-1')).toBe('ok'); // a reload of its confirm page
      expect(await h.uses.claim(l, 'browser-2')).toBe('other_browser');
      expect(await h.uses.spend(l, 'browser-2')).toBe('other_browser');
      expect(await h.uses.spend(l, 'browser-1')).toBe('ok');
      expect(await h.uses.spend(l, 'browser-1')).toBe('used');
      expect(await h.uses.claim(l, 'browser-1')).toBe('used');
    });

    it('links of two users do not interfere; a never-opened link cannot be spent', async () => {
      const a = link('na', 'alice', h.now() + 60_000);
      const b = link('nb', 'bob', h.now() + 60_000);
      expect(await h.uses.spend(b, 'browser-b')).toBe('other_browser');
      expect(await h.uses.claim(a, 'browser-a')).toBe('ok');
      expect(await h.uses.claim(b, 'browser-b')).toBe('ok');
      expect(await h.uses.spend(a, 'browser-a')).toBe('ok');
      expect(await h.uses.spend(b, 'browser-b')).toBe('ok');
    });

    it('two concurrent confirmations: exactly one wins', async () => {
      const l = link('n2', 'alice', h.now() + 60_000);
      await h.uses.claim(l, 'browser-1');
      const outcomes = await Promise.all([h.uses.spend(l, 'browser-1'), h.uses.spend(l, 'browser-1')]);
      expect(outcomes.sort()).toEqual(['ok', 'used']);
    });

    it('a session lives until it ends or expires, on the injected clock', async () => {
      const s: LinkPayload = { v: 1, p: 'session', t: 'default', u: 'alice', exp: h.now() + 30 * 60_000, n: 's1' };
      const other: LinkPayload = { ...s, u: 'bob', n: 's2' };
      expect(await h.sessions.live(s)).toBe(false);
      await h.sessions.open(s);
      await h.sessions.open(other);
      expect(await h.sessions.live(s)).toBe(true);
      await h.sessions.end(s);
      expect(await h.sessions.live(s)).toBe(false);
      expect(await h.sessions.live(other)).toBe(true);
      h.advance(30 * 60_000);
      expect(await h.sessions.live(other)).toBe(false);
    });
  });
}
