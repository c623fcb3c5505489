import { describe, expect, it } from 'vitest';
import { headerRecord, setHeader } from '../../src/providers/header-record.js';

/** What a Headers holds for the same input, as a record of lower-case names. */
function viaHeaders(init: HeadersInit): Record<string, string> {
  return Object.fromEntries(new Headers(init));
}

describe('headerRecord', () => {
  const inputs: Record<string, HeadersInit> = {
    'a record in mixed case': { Authorization: 'Bearer k', 'X-Trace': 'a' },
    'one name in two cases': { Accept: 'text/html', accept: 'application/json' },
    'values with surrounding whitespace': { 'x-a': '  padded\t', 'x-b': '\r\nline\n' },
    'pairs with a repeated name': [
      ['X-A', '1'],
      ['x-a', '2'],
      ['Content-Type', 'application/json'],
    ],
    'a Headers': new Headers({ 'X-From-Headers': 'yes', Accept: '*/*' }),
  };

  for (const [what, init] of Object.entries(inputs)) {
    it(`holds what a Headers holds: ${what}`, () => {
      expect({ ...headerRecord(init) }).toEqual(viaHeaders(init));
    });
  }

  it('is empty for no headers, and a name like __proto__ is a header like any other', () => {
    expect(Object.keys(headerRecord(undefined))).toEqual([]);
    const r = headerRecord(JSON.parse('{"__proto__": "x"}') as Record<string, string>);
    expect(Object.entries(r)).toEqual([['__proto__', 'x']]);
    expect(Object.getPrototypeOf(r)).toBeNull();
  });

  it('setHeader replaces a value given under any case, trimmed as Headers#set trims', () => {
    const r = headerRecord({ 'Content-Type': 'text/plain' });
    setHeader(r, 'CONTENT-TYPE', ' application/json ');
    const h = new Headers({ 'Content-Type': 'text/plain' });
    h.set('CONTENT-TYPE', ' application/json ');
    expect({ ...r }).toEqual(Object.fromEntries(h));
  });
});
