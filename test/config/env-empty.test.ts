/** A `${NAME}` whose variable is set to "" is said to be empty, not unset: `env` shows it, and "not set" sent users looking for a typo. */
import { describe, expect, it } from 'vitest';
import { interpolateEnv } from '../../src/config/interpolate.js';
import { hubErrorOf } from '../helpers/errors.js';

describe('${NAME} set to ""', () => {
  it('is an error that says the variable is empty and how to give a default; an unset one is still "not set"', () => {
    const message = hubErrorOf(() => interpolateEnv({ a: { token: '${EMPTY}' }, b: '${GONE}' }, { EMPTY: '' }, 'c.json')).message;
    expect(message).toBe(
      'c.json: a.token: environment variable EMPTY is empty (set it to a value, or write ${EMPTY:-default}); b: environment variable GONE is not set',
    );
  });

  it('takes the default when one is written', () => {
    expect(interpolateEnv({ a: '${EMPTY:-x}' }, { EMPTY: '' }, 'c.json')).toEqual({ a: 'x' });
  });
});
