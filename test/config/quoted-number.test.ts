/** A number or boolean written as a string (`"port": "${PORT}"`) is refused saying to write it unquoted, and that ${ENV} is read in strings only. */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { HubError } from '../../src/errors.js';

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof HubError) return err.message;
    throw err;
  }
  throw new Error('expected a HubError');
}

describe('a number or boolean in quotes', () => {
  it('names the key, what it takes and why ${ENV} did not make it a number', () => {
    const text = JSON.stringify({ server: { port: '${PORT:-8787}' }, mcpServers: { a: { command: 'x', disabled: 'true' } } });
    expect(messageOf(() => parseConfigText(text, 'c.json', {}))).toBe(
      'c.json: server.port: Invalid input: expected number, received string (write the number without quotes: ${ENV} is read in strings only); ' +
        'mcpServers.a.disabled: Invalid input: expected boolean, received string (write the boolean without quotes: ${ENV} is read in strings only)',
    );
  });

  it('a string that is no number or boolean keeps the plain message', () => {
    const text = JSON.stringify({ mcpServers: { a: { command: 'x', disabled: 'yes' } } });
    expect(messageOf(() => parseConfigText(text, 'c.json', {}))).toBe('c.json: mcpServers.a.disabled: Invalid input: expected boolean, received string');
  });
});
