/**
 * `"type": "sse"` (what Claude Code and older Claude Desktop configs write for a server on the
 * 2024-11-05 HTTP+SSE transport) is refused saying the hub does not speak that transport and what
 * to give instead, where it said only that the type must be "http" or "streamable-http". And an
 * entry with neither `command` nor `url` says it needs one, where it named `command` alone.
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

describe('an mcpServers entry with neither command nor url', () => {
  it('says it needs one of them, not that command is missing', () => {
    const text = JSON.stringify({ mcpServers: { x: {} } });
    expect(hubErrorOf(() => parseConfigText(text, 'c.json', {})).message).toBe(
      'c.json: mcpServers.x: needs "command" (a server the hub starts as a process) or "url" (a Streamable HTTP server)',
    );
    // One that has either is told about the shape it chose.
    const stdio = JSON.stringify({ mcpServers: { x: { command: 'node', isolation: 'per-user' } } });
    expect(hubErrorOf(() => parseConfigText(stdio, 'c.json', {})).message).toMatch(/^c\.json: mcpServers\.x\.isolation: /);
  });
});
