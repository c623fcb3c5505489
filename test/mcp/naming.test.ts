import { describe, expect, it } from 'vitest';
import { MAX_TOOL_NAME, assignNames, preferredName, sanitize, stableHash, type NameClaim } from '../../src/mcp/naming.js';

/** The character set and length every exposed tool name must satisfy. */
const VALID = /^[A-Za-z0-9_-]{1,64}$/;

describe('sanitize', () => {
  it('keeps allowed characters and replaces every other one with _', () => {
    expect(sanitize('get-issue_2')).toBe('get-issue_2');
    expect(sanitize('files.read')).toBe('files_read');
    expect(sanitize('a b/c:d')).toBe('a_b_c_d');
    expect(sanitize('café')).toBe('caf_');
    expect(sanitize('😀')).toBe('__');
  });

  it('never returns an empty name', () => {
    expect(sanitize('')).toBe('_');
  });
});

describe('stableHash', () => {
  it('is short, alphanumeric, lower case and depends on both source and tool', () => {
    const h = stableHash('github', 'search');
    expect(h).toMatch(/^[a-z0-9]{6}$/);
    expect(stableHash('github', 'search')).toBe(h);
    expect(stableHash('gitlab', 'search')).not.toBe(h);
    expect(stableHash('github', 'searc')).not.toBe(h);
    // The separator keeps ("ab","c") and ("a","bc") apart.
    expect(stableHash('ab', 'c')).not.toBe(stableHash('a', 'bc'));
  });
});

describe('preferredName', () => {
  it('prefixes with the source and a double underscore', () => {
    expect(preferredName('github', 'search', true)).toEqual({ name: 'github__search', changed: false });
  });

  it('mounts unprefixed when asked', () => {
    expect(preferredName('github', 'search', false)).toEqual({ name: 'search', changed: false });
  });

  it('reports when sanitising changed the name', () => {
    expect(preferredName('fs', 'read.file', true)).toEqual({ name: 'fs__read_file', changed: true });
  });

  it('shortens names over 64 characters to exactly 64 with a stable hash suffix', () => {
    const tool = 'a_really_long_tool_name_'.repeat(4);
    const { name, changed } = preferredName('server', tool, true);
    expect(changed).toBe(true);
    expect(name).toHaveLength(MAX_TOOL_NAME);
    expect(name).toMatch(VALID);
    expect(name.endsWith(`_${stableHash('server', tool)}`)).toBe(true);
    expect(name.startsWith('server__a_really_long')).toBe(true);
    expect(preferredName('server', tool, true).name).toBe(name);
  });

  it('keeps a name of exactly 64 characters as it is', () => {
    const tool = 'x'.repeat(MAX_TOOL_NAME - 'srv__'.length);
    expect(preferredName('srv', tool, true)).toEqual({ name: `srv__${tool}`, changed: false });
  });

  it('gives two long names with a common start different results', () => {
    const base = 'z'.repeat(80);
    expect(preferredName('s', `${base}_one`, true).name).not.toBe(preferredName('s', `${base}_two`, true).name);
  });
});

describe('assignNames', () => {
  it('leaves names that do not collide alone', () => {
    const claims: NameClaim[] = [
      { source: 'a', tool: 'x', prefix: true },
      { source: 'b', tool: 'x', prefix: true },
      { source: 'c', tool: 'y', prefix: false },
    ];
    expect(assignNames(claims)).toEqual(['a__x', 'b__x', 'y']);
  });

  it('lets the first claimant keep a name and suffixes later ones with their stable hash', () => {
    const claims: NameClaim[] = [
      { source: 'one', tool: 'search', prefix: false },
      { source: 'two', tool: 'search', prefix: false },
      { source: 'three', tool: 'search', prefix: false },
    ];
    const names = assignNames(claims);
    expect(names).toEqual(['search', `search_${stableHash('two', 'search')}`, `search_${stableHash('three', 'search')}`]);
    // The same claims give the same names on every run (a client's stored tool names stay valid).
    expect(assignNames(claims)).toEqual(names);
  });

  it('resolves names that only collide after sanitising', () => {
    const names = assignNames([
      { source: 'fs', tool: 'read.file', prefix: true },
      { source: 'fs', tool: 'read_file', prefix: true },
      { source: 'fs', tool: 'read file', prefix: true },
    ]);
    expect(names[0]).toBe('fs__read_file');
    expect(names[1]).toBe(`fs__read_file_${stableHash('fs', 'read_file')}`);
    expect(names[2]).toBe(`fs__read_file_${stableHash('fs', 'read file')}`);
    expect(new Set(names).size).toBe(3);
  });

  it('lets an unprefixed tool collide with a prefixed name and resolves it', () => {
    const names = assignNames([
      { source: 'gh', tool: 'search', prefix: true },
      { source: 'local', tool: 'gh__search', prefix: false },
    ]);
    expect(names).toEqual(['gh__search', `gh__search_${stableHash('local', 'gh__search')}`]);
  });

  it('still finds a free name when a tool is literally named like a suffixed one', () => {
    const suffixed = `dup_${stableHash('b', 'dup')}`;
    const names = assignNames([
      { source: 'c', tool: suffixed, prefix: false },
      { source: 'a', tool: 'dup', prefix: false },
      { source: 'b', tool: 'dup', prefix: false },
    ]);
    expect(names[0]).toBe(suffixed);
    expect(names[1]).toBe('dup');
    expect(names[2]).not.toBe(suffixed);
    expect(new Set(names).size).toBe(3);
    expect(
      assignNames([
        { source: 'c', tool: suffixed, prefix: false },
        { source: 'a', tool: 'dup', prefix: false },
        { source: 'b', tool: 'dup', prefix: false },
      ]),
    ).toEqual(names);
  });

  it('keeps colliding long names within 64 characters and distinct', () => {
    const tool = 'very_long_name_that_goes_on_'.repeat(4);
    const claims: NameClaim[] = [
      { source: 'a', tool, prefix: false },
      { source: 'a', tool, prefix: false },
      { source: 'b', tool, prefix: false },
    ];
    const names = assignNames(claims);
    expect(new Set(names).size).toBe(3);
    for (const n of names) expect(n).toMatch(VALID);
  });

  it('produces only valid, unique names for a large mixed set', () => {
    const claims: NameClaim[] = [];
    for (const source of ['alpha', 'beta', 'gamma-1', 'x'.repeat(48)]) {
      for (const tool of ['search', 'Search', 'search!', 'ü', '', 'read/write', 'q'.repeat(100), 'alpha__search']) {
        claims.push({ source, tool, prefix: source !== 'beta' });
      }
    }
    const names = assignNames(claims);
    expect(new Set(names).size).toBe(claims.length);
    for (const n of names) expect(n).toMatch(VALID);
  });
});
