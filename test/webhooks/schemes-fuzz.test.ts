import { describe, expect, it } from 'vitest';
import { prng } from '../helpers/prng.js';
import { describeDelivery, verifyDelivery } from '../../src/webhooks/schemes/index.js';
import { CASES, type SchemeCase } from './schemes-signers.js';

/**
 * Mutated deliveries of every scheme: none may verify and none may throw. One edit per delivery:
 * every byte a scheme reads is signed or checked, so any single edit must be refused, while two
 * edits could legitimately rebuild something a scheme ignores by design (Stripe's unknown keys).
 * Set FUZZ_SEED to replay a run; a failure prints its seed and case.
 */
const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5eed_2026);
const DELIVERIES = 12_000;
const NOW_S = 1_767_225_600;

interface Delivery {
  body: Buffer;
  headers: Record<string, string>;
}

const BODIES = [
  '{"type":"ticket.updated","id":"evt_1","data":{"ticket":42}}',
  JSON.stringify({ type: 'message', text: 'h\u00e9llo \u2603 \ud83d\ude80', items: Array.from({ length: 40 }, (_, i) => ({ i, v: 'x'.repeat(i) })) }),
];

function mutate(d: Delivery, c: SchemeCase, rnd: () => number): { delivery: Delivery; what: string } {
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  // Characters a header value may end up holding: ASCII, latin1 (what Node decodes raw bytes to), beyond latin1, astral.
  const char = () => String.fromCodePoint(pick([() => 32 + int(95), () => int(256), () => 0x100 + int(0xd700), () => 0x1f600 + int(80)])());
  const editText = (s: string, kind: string): string => {
    const at = int(s.length + 1);
    switch (kind) {
      case 'flip':
        return s.length === 0
          ? char()
          : s.slice(0, at % s.length) + String.fromCharCode(s.charCodeAt(at % s.length) ^ (1 << int(8))) + s.slice((at % s.length) + 1);
      case 'insert':
        return s.slice(0, at) + char() + s.slice(at);
      case 'delete': {
        const i = int(s.length);
        return s.slice(0, i) + s.slice(i + 1);
      }
      case 'truncate':
        return s.slice(0, int(s.length));
      default:
        // Up to 64 KiB: four times what Node's default header limit lets through.
        return s + (rnd() < 0.5 ? `,${s}` : 'A').repeat(Math.ceil(int(64 * 1024) / (s.length + 1)));
    }
  };
  // Huge values are rarer: each costs as much as a hundred small edits.
  const kind = rnd() < 1 / 16 ? 'huge' : pick(['flip', 'insert', 'delete', 'truncate'] as const);
  const headers = { ...d.headers };
  if (rnd() < 0.4) {
    const b = d.body;
    let body: Buffer;
    if (kind === 'flip') {
      body = Buffer.from(b);
      const i = int(b.length);
      body[i] = body[i]! ^ (1 << int(8));
    } else if (kind === 'insert') {
      const i = int(b.length + 1);
      const extra = rnd() < 0.5 ? Buffer.from([int(256)]) : Buffer.from(char(), 'utf8');
      body = Buffer.concat([b.subarray(0, i), extra, b.subarray(i)]);
    } else if (kind === 'delete') {
      const i = int(b.length);
      body = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    } else if (kind === 'truncate') {
      body = b.subarray(0, int(b.length));
    } else {
      body = Buffer.concat([b, Buffer.alloc(1 + int(64 * 1024), int(256))]);
    }
    return { delivery: { body, headers }, what: `body ${kind}` };
  }
  const name = pick(c.required);
  const value = headers[name]!;
  const target = rnd();
  if (target < 0.15) {
    delete headers[name];
    return { delivery: { body: d.body, headers }, what: `header ${name} removed` };
  }
  if (target < 0.3) {
    // A renamed header: what Node would hand over for a misspelt or differently cased name.
    delete headers[name];
    headers[editText(name, kind === 'huge' ? 'insert' : kind)] = value;
    return { delivery: { body: d.body, headers }, what: `header ${name} renamed (${kind})` };
  }
  headers[name] = editText(value, kind);
  return { delivery: { body: d.body, headers }, what: `header ${name} ${kind}` };
}

// Header order carries no meaning: a header removed and put back under its own name is no edit.
const headerText = (h: Record<string, string>) => JSON.stringify(Object.entries(h).sort(([a], [b]) => (a < b ? -1 : 1)));
const same = (a: Delivery, b: Delivery) => a.body.equals(b.body) && headerText(a.headers) === headerText(b.headers);

describe('fuzz: mutated deliveries', () => {
  it(`${DELIVERIES} single-edit mutations of signed deliveries: none accepted, none throws (seed ${SEED})`, async () => {
    const rnd = prng(SEED);
    const bases: { c: SchemeCase; d: Delivery }[] = [];
    for (const c of CASES) {
      for (const text of BODIES) bases.push({ c, d: { body: Buffer.from(text), headers: await c.sign(text, c.secrets[1], NOW_S) } });
    }
    const check = (c: SchemeCase, d: Delivery) =>
      verifyDelivery({ scheme: c.scheme, body: d.body, headers: d.headers, secrets: [c.secrets[0], c.secrets[1]], now: NOW_S * 1000 });
    // The unmutated deliveries verify (with the second secret), so a refusal below is the edit's doing.
    for (const { c, d } of bases) expect(check(c, d), c.scheme).toMatchObject({ ok: true, secretIndex: 1 });

    const codes = new Map<string, number>();
    const wrong: string[] = [];
    const started = performance.now();
    let done = 0;
    while (done < DELIVERIES) {
      const { c, d } = bases[Math.floor(rnd() * bases.length)]!;
      const { delivery, what } = mutate(d, c, rnd);
      if (same(delivery, d)) continue;
      done++;
      try {
        const verdict = check(c, delivery);
        if (verdict.ok) wrong.push(`#${done} ${c.scheme}: ${what} was accepted`);
        else codes.set(verdict.code, (codes.get(verdict.code) ?? 0) + 1);
        describeDelivery({ format: { scheme: c.scheme }, body: delivery.body, headers: delivery.headers, url: '/webhooks/x?a=%zz' });
      } catch (err) {
        wrong.push(`#${done} ${c.scheme}: ${what} threw ${String(err)}`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    expect(wrong.slice(0, 20), `FUZZ_SEED=${SEED}`).toEqual([]);
    // Every way of refusing came up, and nothing got as far as the timestamp window.
    expect([...codes.keys()].sort()).toEqual(['bad_signature', 'bad_timestamp', 'missing_header']);
    // About 1.5 s on an idle 2-core machine; the bound only catches a blow-up (a quadratic parse), not load.
    expect(seconds).toBeLessThan(20);
  });
});
