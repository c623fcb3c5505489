import { describe, expect, it } from 'vitest';
import { redact } from '../../src/agents/scrub.js';

const KEY = 'ua_live_5f0c9e21';
const SECRET = 'whsec_b7d2a4c8';

describe('redact', () => {
  it('replaces a secret wherever it sits in a structured answer: values, nested values and property names', () => {
    const answer = { category: 'billing', usage_by_key: { [KEY]: 12, other: 3 }, notes: [`sent with ${SECRET}`], by_secret: { [`${SECRET}-x`]: { k: KEY } } };
    const out = redact(answer, [KEY, SECRET]);
    expect(out).toEqual({
      category: 'billing',
      usage_by_key: { '[redacted]': 12, other: 3 },
      notes: ['sent with [redacted]'],
      by_secret: { '[redacted]-x': { k: '[redacted]' } },
    });
    expect(JSON.stringify(out)).not.toContain(KEY);
    expect(JSON.stringify(out)).not.toContain(SECRET);
  });

  it('returns an answer without secrets as it is', () => {
    const answer = { reply: 'hello', n: 1 };
    expect(redact(answer, [KEY])).toBe(answer);
  });
});
