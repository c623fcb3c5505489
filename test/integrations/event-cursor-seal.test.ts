import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventCursors } from '../../src/integrations/event-cursor.js';

/** The seal of recent_events cursors on its own: what it binds, and that nothing altered opens. */

const alice = { tenant: 'default', user: 'alice', integration: 'acme' };
const key = randomBytes(32);
const cursors = new EventCursors(() => key);
const refused = { code: 'invalid_params', message: expect.stringMatching(/^after: not a cursor from recent_events/) };

describe('EventCursors', () => {
  it('seals alike for one owner and position, opens to the raw cursor, and shows no part of it', () => {
    for (const raw of ['e0', 'e1', 'e2s', 'ezzzzzzzzz', `e${Number.MAX_SAFE_INTEGER.toString(36)}`]) {
      const sealed = cursors.seal(raw, alice);
      expect(sealed).toMatch(/^c1\.[A-Za-z0-9_-]{22}$/);
      expect(cursors.seal(raw, alice)).toBe(sealed);
      expect(new EventCursors(() => Buffer.from(key)).open(sealed, alice)).toBe(raw);
    }
    expect(cursors.seal('e1', alice)).not.toBe(cursors.seal('e2', alice));
  });

  it('binds tenant, user and integration, each part apart from the next', () => {
    const sealed = cursors.seal('e5', alice);
    const others = [
      { ...alice, tenant: 'other' },
      { ...alice, user: 'bob' },
      { ...alice, integration: 'beta' },
      // The same characters cut elsewhere are another owner.
      { tenant: 'defaulta', user: 'lice', integration: 'acme' },
    ];
    for (const owner of others) expect(() => cursors.open(sealed, owner)).toThrow(expect.objectContaining(refused));
    expect(() => new EventCursors(() => randomBytes(32)).open(sealed, alice)).toThrow(expect.objectContaining(refused));
  });

  it('refuses every single-bit change of a sealed cursor', () => {
    const sealed = cursors.seal('e5', alice);
    const bytes = Buffer.from(sealed.slice(3), 'base64url');
    let tried = 0;
    for (let bit = 0; bit < 128; bit++) {
      const changed = Buffer.from(bytes);
      changed[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => cursors.open(`c1.${changed.toString('base64url')}`, alice)).toThrow(expect.objectContaining(refused));
      tried++;
    }
    expect(tried).toBe(128);
  });

  it('refuses a raw cursor (one handed out before cursors were sealed too), and to seal anything but one', () => {
    expect(() => cursors.open('e2s', alice)).toThrow(expect.objectContaining(refused));
    expect(() => cursors.seal('c1.abc', alice)).toThrow(expect.objectContaining({ code: 'internal' }));
  });
});
