/** A number or boolean written as a string (`"port": "${PORT}"`) is refused saying to write it unquoted, and that ${ENV} is read in strings only. */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';

describe('a number or boolean in quotes', () => {
  it('names the key, what it takes and why ${ENV} did not make it a number', () => {
    const text = JSON.stringify({ server: { port: '${PORT:-8787}' }, mcpServers: { a: { command: 'x', disabled: 'true' } } });
    expect(hubErrorOf(() => parseConfigText(text, 'c.json', {})).message).toBe(
      'c.json: server.port: Invalid input: expected number, received string (write the number without quotes: ${ENV} is read in strings only); ' +
        'mcpServers.a.disabled: Invalid input: expected boolean, received string (write the boolean without quotes: ${ENV} is read in strings only)',
    );
  });

  it('a string that is no number or boolean keeps the plain message', () => {
    const text = JSON.stringify({ mcpServers: { a: { command: 'x', disabled: 'yes' } } });
    expect(hubErrorOf(() => parseConfigText(text, 'c.json', {})).message).toBe(
      'c.json: mcpServers.a.disabled: Invalid input: expected boolean, received string',
    );
  });
});
