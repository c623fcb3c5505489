/**
 * `${A:-${B}}`, a default that is itself a reference (as a shell and Compose read it): the default
 * ran only to its first `}`, so with A set the value came out with a stray `}` (`Bearer tok}`, a
 * header the provider refused), and with A unset as the text `${B}`, never filled.
 */
import { describe, expect, it } from 'vitest';
import { interpolateEnv } from '../../src/config/interpolate.js';
import { parseConfigText } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';

describe('a default that is a reference', () => {
  const env = { TOKEN: 'tok', OTHER: 'other' };

  it('is the first variable when it is set, with nothing after it', () => {
    expect(interpolateEnv({ a: 'Bearer ${TOKEN:-${OTHER}}', b: '${TOKEN:-${GONE}}!' }, env, 'c.json')).toEqual({ a: 'Bearer tok', b: 'tok!' });
  });

  it('is the nested one filled when the first is unset, to any depth, with $${ still a literal', () => {
    expect(interpolateEnv({ a: '${GONE:-${OTHER}}', b: '${GONE:-${NONE:-deep}}', c: '${GONE:-$${OTHER}}', d: '${GONE:-x${OTHER}y}' }, env, 'c.json')).toEqual({
      a: 'other',
      b: 'deep',
      c: '${OTHER}',
      d: 'xothery',
    });
  });

  it('names an unset variable the default needs, with the key', () => {
    expect(hubErrorOf(() => interpolateEnv({ h: { auth: '${GONE:-${NONE}}' } }, env, 'c.json')).message).toBe(
      'c.json: h.auth: environment variable NONE is not set',
    );
  });

  it('reaches a server header through the loader, and a plain brace after a reference stays text', () => {
    const text = JSON.stringify({
      mcpServers: { r: { url: 'https://r.example/mcp', headers: { Authorization: 'Bearer ${TOKEN:-${OTHER}}', x: '${TOKEN}}' } } },
    });
    expect(parseConfigText(text, 'c.json', env).mcpServers['r']).toMatchObject({ headers: { Authorization: 'Bearer tok', x: 'tok}' } });
  });
});

describe('$${ before what is no reference', () => {
  it('is a literal ${ too, as the README says of every $${', () => {
    expect(interpolateEnv({ a: 'n=$${#ARR[@]}', b: '$${ SPACED }', c: 'x$${', d: '$${A}' }, {}, 'c.json')).toEqual({
      a: 'n=${#ARR[@]}',
      b: '${ SPACED }',
      c: 'x${',
      d: '${A}',
    });
  });
});
