/** An HTTP downstream server's `url` with another scheme (ws://, ftp://) is refused saying what it takes, not only "Invalid URL". */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';

describe('mcpServers.<name>.url', () => {
  it.each([['ws://127.0.0.1:9000/mcp'], ['ftp://files.example/mcp'], ['not a url']])('%j names the key and what it takes', (url) => {
    const text = JSON.stringify({ mcpServers: { remote: { url } } });
    expect(hubErrorOf(() => parseConfigText(text, 'c.json', {})).message).toBe(
      'c.json: mcpServers.remote.url: must be an http or https URL (a server started as a process takes "command" instead)',
    );
  });

  it('takes http and https', () => {
    const text = JSON.stringify({ mcpServers: { a: { url: 'http://127.0.0.1:9000/mcp' }, b: { url: 'https://mcp.example/mcp' } } });
    expect(Object.keys(parseConfigText(text, 'c.json', {}).mcpServers)).toEqual(['a', 'b']);
  });
});
