import { describe, expect, it } from 'vitest';
import { parse } from '../../servers/common.js';

describe('command-line parsing of ids that begin with a dash', () => {
  it('takes the word after a string option as its value, even when it begins with "-"', () => {
    const { flags, positionals } = parse(['revoke', '--grant', '-Nwj8bbL7Rn', '--data', '/tmp/d'], { grant: { type: 'string' } });
    expect(flags).toMatchObject({ grant: '-Nwj8bbL7Rn', data: '/tmp/d' });
    expect(positionals).toEqual(['revoke']);
  });

  it('still reads a known option after a string option as an option, so a missing value is an error', () => {
    expect(() => parse(['--user', '--help'])).toThrow('--user needs a value');
    expect(() => parse(['--user', '-h'])).toThrow('--user needs a value');
  });

  it('passes a positional that begins with "-" after "--"', () => {
    const { positionals } = parse(['clients', 'revoke', '--', '-Nwj8bbL7Rn']);
    expect(positionals).toEqual(['clients', 'revoke', '-Nwj8bbL7Rn']);
  });

  it('still refuses an unknown option', () => {
    expect(() => parse(['revoke', '-Nwj8bbL7Rn'])).toThrow(/^unknown flag -Nwj8bbL7Rn \(an argument that begins with "-" goes after --\)$/);
  });
});
