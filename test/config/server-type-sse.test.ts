/**
 * `"type": "sse"` (what Claude Code and older Claude Desktop configs write for a server on the
 * 2024-11-05 HTTP+SSE transport) is refused saying the hub does not speak that transport and what
 * to give instead, where it said only that the type must be "http" or "streamable-http".
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';

describe('mcpServers.<name>.type', () => {
  it('"sse" names the older transport and what to give instead', () => {
    const text = JSON.stringify({ mcpServers: { legacy: { type: 'sse', url: 'http://127.0.0.1:9000/sse' } } });
    expect(hubErrorOf(() => parseConfigText(text, 'c.json', {})).message).toBe(
      'c.json: mcpServers.legacy.type: "sse" is the older HTTP+SSE transport (2024-11-05), which the hub does not speak: give the server\'s Streamable HTTP URL (often ending in /mcp) and "type": "http"',
    );
  });

  it('takes "http", "streamable-http" and no type', () => {
    const servers = {
      a: { type: 'http', url: 'http://127.0.0.1:9000/mcp' },
      b: { type: 'streamable-http', url: 'http://127.0.0.1:9001/mcp' },
      c: { url: 'http://127.0.0.1:9002/mcp' },
    };
    expect(Object.keys(parseConfigText(JSON.stringify({ mcpServers: servers }), 'c.json', {}).mcpServers)).toEqual(['a', 'b', 'c']);
  });
});
