import { describe, expect, it } from 'vitest';
import { compare, formatKnownLosses, judge, parseKnownLosses, passedChecks, type Pairing } from '../../scripts/conformance-compare.js';
import type { RequirementSet, ScenarioChecks } from '../../scripts/conformance-suite.js';

/**
 * The verdict of `npm run conformance:proxy` rests on these functions: which checks count as
 * passed, what counts as lost, and when the known-losses list fails the run.
 */

const scenarios: ScenarioChecks[] = [
  {
    scenario: 'tools-call-sampling',
    checks: [
      { id: 'sampling-request', status: 'SUCCESS' },
      { id: 'outgoing-request', status: 'INFO' },
      { id: 'sampling-result', status: 'FAILURE' },
    ],
  },
  {
    scenario: 'http-header-validation',
    checks: [
      { id: 'sep-2243-reject', status: 'SUCCESS' },
      { id: 'sep-2243-reject', status: 'WARNING' },
      { id: 'sep-2243-reject', status: 'SUCCESS' },
      { id: 'sep-2243-skip', status: 'SKIPPED' },
    ],
  },
];

describe('passedChecks', () => {
  it('keys SUCCESS checks by scenario and id, numbering repeated ids in emission order', () => {
    expect([...passedChecks(scenarios)].sort()).toEqual([
      'http-header-validation/sep-2243-reject',
      'http-header-validation/sep-2243-reject#3',
      'tools-call-sampling/sampling-request',
    ]);
  });
});

describe('compare', () => {
  it('counts both sides and lists what only one side passed', () => {
    const direct = new Set(['a/1', 'a/2', 'b/1']);
    const hub = new Set(['a/1', 'b/1', 'c/1']);
    expect(compare(direct, hub)).toEqual({ direct: 3, throughHub: 3, lost: ['a/2'], gained: ['c/1'] });
  });
});

describe('judge', () => {
  const c = compare(new Set(['a/1', 'a/2', 'b/1']), new Set(['b/1']));

  it('fails on any loss in strict mode', () => {
    expect(judge(c, 'strict')).toEqual({ ok: false, unexpected: ['a/1', 'a/2'], stale: [] });
    expect(judge(compare(new Set(['a/1']), new Set(['a/1', 'b/1'])), 'strict')).toEqual({ ok: true, unexpected: [], stale: [] });
  });

  it('passes when the losses are exactly the listed ones', () => {
    expect(judge(c, new Set(['a/1', 'a/2']))).toEqual({ ok: true, unexpected: [], stale: [] });
  });

  it('fails on a loss the list does not name', () => {
    expect(judge(c, new Set(['a/1']))).toEqual({ ok: false, unexpected: ['a/2'], stale: [] });
  });

  it('fails on a listed loss that no longer happens, so the list only shrinks', () => {
    expect(judge(c, new Set(['a/1', 'a/2', 'b/1', 'z/9']))).toEqual({ ok: false, unexpected: [], stale: ['b/1', 'z/9'] });
  });
});

describe('parseKnownLosses', () => {
  it('reads pairings, requirement sets and checks, ignoring comments', () => {
    const known = parseKnownLosses(
      [
        '# why these are lost',
        'http-2026:',
        '  2025-11-25:   # a comment',
        '    - resources-subscribe/resources-subscribe   # -32603 from the 2026 leg',
        '    - json-schema-2020-12/json-schema-2020-12-$defs',
        '    - http-header-validation/sep-2243-reject#3',
        '  2026-07-28: []',
        '',
      ].join('\n'),
    );
    expect([...known.keys()]).toEqual(['http-2026']);
    expect([...known.get('http-2026')!.get('2025-11-25')!]).toEqual([
      'resources-subscribe/resources-subscribe',
      'json-schema-2020-12/json-schema-2020-12-$defs',
      'http-header-validation/sep-2243-reject#3',
    ]);
    expect(known.get('http-2026')!.get('2026-07-28')!.size).toBe(0);
  });

  it.each([
    ['tcp-2025:\n', 'f:1: unknown pairing "tcp-2025" (one of stdio-2025, stdio-2026, http-2025, http-2026)'],
    ['http-2025:\n  2024-11-05: []\n', 'f:2: unknown requirement set "2024-11-05" (one of 2025-11-25, 2026-07-28)'],
    ['  2025-11-25:\n', 'f:1: a requirement set outside any pairing'],
    ['http-2025:\n    - a/b\n', 'f:2: a check outside any pairing and requirement set'],
    ['http-2025:\n  2025-11-25:\n    - no-slash\n', 'f:3: "no-slash": a check is written scenario/check-id'],
    ['http-2025:\n  2025-11-25:\n    - a/b\n    - a/b\n', 'f:4: a/b listed twice'],
    ['http-2025:\n  2025-11-25: []\nhttp-2025:\n', 'f:3: pairing http-2025 listed twice'],
    ['http-2025:\n\t2025-11-25: []\n', 'f:2: cannot read "2025-11-25: []" (expected "pairing:", "  requirement-set:" or "    - scenario/check")'],
  ])('refuses %j with its line number', (text, message) => {
    expect(() => parseKnownLosses(text, 'f')).toThrow(new Error(message));
  });
});

describe('formatKnownLosses', () => {
  it('writes what parseKnownLosses reads back', () => {
    const losses = new Map<Pairing, Map<RequirementSet, string[]>>([
      [
        'stdio-2025',
        new Map<RequirementSet, string[]>([
          ['2025-11-25', []],
          ['2026-07-28', ['a/1', 'b/2#2']],
        ]),
      ],
    ]);
    const text = formatKnownLosses(losses);
    expect(text).toBe('stdio-2025:\n  2025-11-25: []\n  2026-07-28:\n    - a/1\n    - b/2#2\n');
    const back = parseKnownLosses(text);
    expect([...back.get('stdio-2025')!.get('2026-07-28')!]).toEqual(['a/1', 'b/2#2']);
    expect(back.get('stdio-2025')!.get('2025-11-25')!.size).toBe(0);
  });
});
